// Reading a config file: only a regular file, never more than the limit, and its hash as the journal keeps it.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

// The largest config file mesh-run reads: a config is a few lines of YAML.
export const CONFIG_LIMIT_BYTES = 1_000_000;

// Why a config file cannot be read, in words, or its text. Only a regular file is read (a FIFO would
// block, /dev/zero never ends), and never more than the limit plus one byte.
export function readConfigFile(path: string): { text: string } | { problem: string } {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      problem:
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EACCES'
            ? 'permission denied'
            : code === 'ENOTDIR'
              ? 'a part of the path is not a directory'
              : String(code ?? error),
    };
  }
  if (stat.isDirectory()) return { problem: 'it is a directory' };
  if (!stat.isFile())
    return {
      problem: `it is not a regular file (${stat.isFIFO() ? 'a pipe' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'a special file'})`,
    };
  if (stat.size > CONFIG_LIMIT_BYTES) return { problem: `it is larger than ${CONFIG_LIMIT_BYTES / 1_000_000} MB; a mesh-run config is a few lines of YAML` };
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buffer = Buffer.alloc(CONFIG_LIMIT_BYTES + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > CONFIG_LIMIT_BYTES) return { problem: `it is larger than ${CONFIG_LIMIT_BYTES / 1_000_000} MB; a mesh-run config is a few lines of YAML` };
    }
    return { text: buffer.subarray(0, length).toString('utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problem: code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String(code ?? error) };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
