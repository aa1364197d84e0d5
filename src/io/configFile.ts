/**
 * Reading a node's config from the process: flags (given), environment, and the JSON
 * config file named by `--config` or SHOAL_CONFIG.
 */
import { readFileSync } from 'node:fs';
import { CONFIG_FILE_ENV, ConfigError, resolveNodeConfig, type NodeConfig } from '../node/config.ts';

/** Reads and parses a JSON config file; a missing or malformed file is a ConfigError. */
export function readConfigFile(path: string): { path: string; contents: unknown } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`invalid config: cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    return { path, contents: JSON.parse(text) as unknown };
  } catch (error) {
    throw new ConfigError(`invalid config: config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The node config from flags (keyed by field name), the environment and the config file.
 * `configPath` is the `--config` flag; SHOAL_CONFIG is used when it is absent.
 */
export function loadNodeConfig(
  flags: Readonly<Record<string, unknown>>,
  configPath: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): NodeConfig {
  const path = configPath ?? nonEmpty(env[CONFIG_FILE_ENV]);
  const file = path === undefined ? undefined : readConfigFile(path);
  return resolveNodeConfig({ flags, env, file });
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}
