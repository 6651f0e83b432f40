/**
 * The Glue Data Catalog as Athena's `AwsDataCatalog` sees it: databases and their tables, kept in the Athena
 * service's own state (the sandbox has no Glue API). A table keeps what its DDL said: columns, partition keys,
 * location, SerDe, input format, SerDe and table properties.
 */
export interface CatalogColumn {
  name: string;
  /** Hive type as written, lower case (`string`, `bigint`, `decimal(10,2)`, `array<string>`). */
  type: string;
}

export type TableFormat = "csv" | "text" | "parquet" | "orc" | "json";

export interface CatalogTable {
  database: string;
  name: string;
  columns: CatalogColumn[];
  partitionKeys: CatalogColumn[];
  /** `s3://bucket/prefix/`. */
  location: string;
  format: TableFormat;
  /** SymlinkTextInputFormat: the location holds lists of data files, not the data. */
  symlink: boolean;
  serde: string | undefined;
  inputFormat: string | undefined;
  serdeProperties: Record<string, string>;
  tableProperties: Record<string, string>;
  /** Partitions added by MSCK REPAIR TABLE (tables without projection): value lists by location. */
  partitions: { values: string[]; location: string }[];
  external: boolean;
  createdAt: Date;
}

export interface CatalogDatabase {
  name: string;
  location: string | undefined;
  tables: Map<string, CatalogTable>;
}

/** The catalog as a data directory keeps it (sandbox/persistence/). */
export interface CatalogSnapshot {
  databases: {
    name: string;
    location: string | undefined;
    tables: (Omit<CatalogTable, "createdAt"> & { createdAt: string })[];
  }[];
}

export class GlueCatalog {
  private readonly databases = new Map<string, CatalogDatabase>();

  constructor() {
    // Athena's AwsDataCatalog always has the `default` database.
    this.databases.set("default", { name: "default", location: undefined, tables: new Map() });
  }

  database(name: string): CatalogDatabase | undefined {
    return this.databases.get(name);
  }

  createDatabase(name: string, location: string | undefined): CatalogDatabase {
    const db = { name, location, tables: new Map<string, CatalogTable>() };
    this.databases.set(name, db);
    return db;
  }

  dropDatabase(name: string): void {
    this.databases.delete(name);
  }

  table(database: string, name: string): CatalogTable | undefined {
    return this.databases.get(database)?.tables.get(name);
  }

  databaseNames(): string[] {
    return [...this.databases.keys()].sort();
  }

  snapshot(): CatalogSnapshot {
    return {
      databases: [...this.databases.values()].map((db) => ({
        name: db.name,
        location: db.location,
        tables: [...db.tables.values()].map((t) => ({ ...t, createdAt: t.createdAt.toISOString() })),
      })),
    };
  }

  restore(snapshot: CatalogSnapshot): void {
    this.databases.clear();
    for (const db of snapshot.databases) {
      const tables = new Map(db.tables.map((t) => [t.name, { ...t, createdAt: new Date(t.createdAt) }]));
      this.databases.set(db.name, { name: db.name, location: db.location, tables });
    }
  }
}
