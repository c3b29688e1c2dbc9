import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, symlink, chmod } from 'node:fs/promises';
import { isAbsolute, join, normalize, posix, relative, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, pack as tarPack, type Header, type Pack } from 'tar-stream';
import { invalidInput } from '../errors.js';

/**
 * Deterministic source tarballs (DESIGN §1: the build context is named by the sha256
 * of a deterministic tar of the tree). The same tree gives the same bytes on any
 * machine:
 * - entries sorted by their UTF-8 path bytes, directories as `path/`;
 * - mtime 0, uid/gid 0, empty user/group names;
 * - mode 0755 for directories and for files with any execute bit, 0644 for other
 *   files, 0777 for symlinks;
 * - `.git` directories left out; only regular files, directories and symlinks that
 *   stay inside the tree (anything else is refused);
 * - plain (uncompressed) POSIX ustar, pax headers for long paths, as tar-stream
 *   writes them; no compression, since gzip output differs between zlib versions.
 */

export interface TreeEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  linkname?: string;
}

const EXCLUDED_NAMES = new Set(['.git']);

/** Lists a tree in pack order. */
export async function listTree(root: string): Promise<TreeEntry[]> {
  const rootStat = await lstat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw invalidInput('not-a-directory', `${root} is not a directory; pack takes the root of a build context`);
  const entries: TreeEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      if (EXCLUDED_NAMES.has(name)) continue;
      const full = join(dir, name);
      const rel = relative(root, full).split(sep).join('/');
      const st = await lstat(full);
      if (st.isDirectory()) {
        entries.push({ path: `${rel}/`, type: 'directory', mode: 0o755, size: 0 });
        await walk(full);
      } else if (st.isFile()) {
        entries.push({ path: rel, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, size: st.size });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(full);
        const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
        if (isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
          throw invalidInput('symlink-escapes', `${rel} is a symlink to ${target}, outside the tree; a build context must be self-contained`);
        }
        entries.push({ path: rel, type: 'symlink', mode: 0o777, size: 0, linkname: target });
      } else {
        throw invalidInput('special-file', `${rel} is not a regular file, directory or symlink; remove it from the build context`);
      }
    }
  };
  await walk(root);
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** Streams the deterministic tar of `root`. */
export function packTree(root: string, entries: TreeEntry[]): Readable {
  const pack = tarPack();
  void (async () => {
    try {
      for (const e of entries) {
        const header = { name: e.path, mode: e.mode, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };
        if (e.type === 'directory') await entry(pack, { ...header, type: 'directory' });
        else if (e.type === 'symlink') await entry(pack, { ...header, type: 'symlink', linkname: e.linkname! });
        else {
          const sink = pack.entry({ ...header, type: 'file', size: e.size });
          await pipeline(createReadStream(join(root, e.path)), sink as unknown as NodeJS.WritableStream);
        }
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}

function entry(pack: Pack, header: Partial<Header> & Pick<Header, 'name'>): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
}

/** Packs `root` into `out` and returns the tar's sha256 (hex) and entry count. */
export async function packToFile(root: string, out: string): Promise<{ sha256: string; entries: number; bytes: number }> {
  const entries = await listTree(root);
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(packTree(root, entries), meter, createWriteStream(out, { mode: 0o644 }));
  return { sha256: hash.digest('hex'), entries: entries.length, bytes };
}

/** The sha256 (hex) of the deterministic tar of `root`, without writing it. */
export async function treeDigest(root: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of packTree(root, await listTree(root))) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Extracts a source tar into an empty directory, refusing anything that could write
 * outside it: absolute paths, `..` components, links leaving the tree, device files.
 * Ownership is not restored; modes are (masked to 0777).
 */
export async function unpackTar(source: Readable, dest: string): Promise<number> {
  await mkdir(dest, { recursive: true });
  const extract = tarExtract();
  let count = 0;
  // Nothing is ever written through a symlink from the archive: a link's lexical
  // target can stay inside while a chain of links resolves outside.
  const links = new Set<string>();
  const throughLink = (path: string) => path.split('/').some((_, i, parts) => links.has(parts.slice(0, i).join('/')));
  const done = (async () => {
    for await (const e of extract) {
      const name = e.header.name.replace(/\/+$/, '');
      const norm = posix.normalize(name);
      if (name === '' || isAbsolute(name) || norm === '..' || norm.startsWith('../') || norm.split('/').includes('..')) {
        throw invalidInput('unsafe-archive', `source archive entry ${JSON.stringify(e.header.name)} would land outside the build directory`);
      }
      if (throughLink(norm) || links.has(norm)) {
        throw invalidInput('unsafe-archive', `source archive entry ${name} would be written through or over a symlink`);
      }
      const target = join(dest, normalize(norm));
      switch (e.header.type) {
        case 'directory':
          await mkdir(target, { recursive: true, mode: 0o755 });
          e.resume();
          break;
        case 'file':
          await mkdir(join(target, '..'), { recursive: true });
          await pipeline(e as unknown as Readable, createWriteStream(target, { mode: (e.header.mode ?? 0o644) & 0o777 }));
          await chmod(target, (e.header.mode ?? 0o644) & 0o777);
          break;
        case 'symlink': {
          const link = e.header.linkname ?? '';
          const resolved = posix.normalize(posix.join(posix.dirname(norm), link));
          if (isAbsolute(link) || resolved === '..' || resolved.startsWith('../')) {
            throw invalidInput('unsafe-archive', `source archive symlink ${name} -> ${link} points outside the build directory`);
          }
          await mkdir(join(target, '..'), { recursive: true });
          await symlink(link, target);
          links.add(norm);
          e.resume();
          break;
        }
        default:
          throw invalidInput('unsafe-archive', `source archive entry ${name} has type ${e.header.type}; only files, directories and symlinks are allowed`);
      }
      count++;
    }
  })();
  await Promise.all([pipeline(source, extract as unknown as NodeJS.WritableStream), done]);
  return count;
}
