/**
 * Cuts the bytes of a CSV file (RFC 4180) into segments that each end where a record ends, so a reader can stop
 * between two records and know the byte offset to start again from. A line feed ends a record when the double
 * quotes before it are even in number: quoted fields open and close with one, and a doubled quote inside one adds
 * two. A segment holds whole records, at most `maxBytes` of them unless one record alone is longer; a segment is
 * also cut where the input's chunk ends, so nothing waits for more input. The bytes after the last line feed (a
 * last record without one) are the last segment.
 */
export async function* recordSegments(input: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer> {
  let buf: Buffer = EMPTY;
  let pos = 0; // bytes of buf already scanned
  let odd = false; // inside a quoted field at pos
  let cut = 0; // end of the last whole record in buf
  for await (const chunk of input) {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (pos < buf.length) {
      const quote = buf.indexOf(QUOTE, pos);
      const lf = odd ? -1 : buf.indexOf(LF, pos);
      if (lf >= 0 && (quote < 0 || lf < quote)) {
        const end = lf + 1;
        pos = end;
        if (end > maxBytes && cut > 0) {
          yield buf.subarray(0, cut);
          buf = buf.subarray(cut);
          pos -= cut;
          cut = 0;
        }
        cut = pos;
        if (cut >= maxBytes) {
          yield buf.subarray(0, cut);
          buf = buf.subarray(cut);
          pos = 0;
          cut = 0;
        }
      } else if (quote >= 0) {
        odd = !odd;
        pos = quote + 1;
      } else {
        pos = buf.length;
      }
    }
    if (cut > 0) {
      yield buf.subarray(0, cut);
      buf = buf.subarray(cut);
      pos -= cut;
      cut = 0;
    }
  }
  if (buf.length > 0) yield buf;
}

const EMPTY = Buffer.alloc(0);
const QUOTE = 0x22;
const LF = 0x0a;
