// Preference-data import: readers per format, schema detection and mapping, validation, statistics,
// hashing and splits. Entry point: importDataset(store, file, options).
export { importDataset, pairKey, sha256File, type ImportOptions, type ImportResult } from './import.js';
export { DataFileError, detectFormat, FORMATS, type Format } from './formats.js';
export { SCHEMAS, SCHEMA_IDS, detectSchema, customSchema, type Schema, type SchemaId, type Mapping, type Message } from './schemas.js';
export { ImportRequestSchema, parseMapping, parseSplit, OptionError, type ImportRequest } from './options.js';
export { DEFAULT_SPLIT, splitOf, type SplitSpec } from './split.js';
export type { DatasetStats, Distribution } from './stats.js';
