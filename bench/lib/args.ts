/** Command-line flag parsing for benchmarks (node:util parseArgs plus number checks). */
import { parseArgs } from 'node:util';

/** A bad command line: reported as one line, without a stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface NumberFlag {
  default: number;
  min?: number;
  integer?: boolean;
  help: string;
}

export interface FlagSpec {
  numbers: Record<string, NumberFlag>;
  booleans?: Record<string, { help: string }>;
  strings?: Record<string, { help: string; default?: string }>;
}

export interface ParsedFlags {
  numbers: Record<string, number>;
  booleans: Record<string, boolean>;
  strings: Record<string, string | undefined>;
}

export function usage(script: string, spec: FlagSpec): string {
  const lines = [`usage: ${script} [flags]`];
  for (const [name, f] of Object.entries(spec.numbers)) lines.push(`  --${name} N`.padEnd(28) + `${f.help} (default ${f.default})`);
  for (const [name, f] of Object.entries(spec.strings ?? {})) lines.push(`  --${name} S`.padEnd(28) + f.help + (f.default !== undefined ? ` (default ${f.default})` : ''));
  for (const [name, f] of Object.entries(spec.booleans ?? {})) lines.push(`  --${name}`.padEnd(28) + f.help);
  lines.push('  --help'.padEnd(28) + 'this text');
  return lines.join('\n');
}

/** Parses argv against the spec; throws a readable error on an unknown flag or a bad number. */
export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags & { help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const name of Object.keys(spec.numbers)) options[name] = { type: 'string' };
  for (const name of Object.keys(spec.strings ?? {})) options[name] = { type: 'string' };
  for (const name of Object.keys(spec.booleans ?? {})) options[name] = { type: 'boolean' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const numbers: Record<string, number> = {};
  for (const [name, f] of Object.entries(spec.numbers)) {
    const raw = values[name];
    const value = typeof raw === 'string' ? Number(raw) : f.default;
    if (!Number.isFinite(value) || (f.integer === true && !Number.isInteger(value)) || value < (f.min ?? -Infinity)) {
      throw new UsageError(`--${name}: expected ${f.integer === true ? 'an integer' : 'a number'}${f.min !== undefined ? ` >= ${f.min}` : ''}, got ${JSON.stringify(raw)}`);
    }
    numbers[name] = value;
  }
  const booleans: Record<string, boolean> = {};
  for (const name of Object.keys(spec.booleans ?? {})) booleans[name] = values[name] === true;
  const strings: Record<string, string | undefined> = {};
  for (const [name, f] of Object.entries(spec.strings ?? {})) {
    const raw = values[name];
    strings[name] = typeof raw === 'string' ? raw : f.default;
  }
  return { numbers, booleans, strings, help: values.help === true };
}
