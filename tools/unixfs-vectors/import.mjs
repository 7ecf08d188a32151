// Cross-check for piece-store's UnixFS importer: imports each path given on the command line
// with the reference JavaScript importer (ipfs-unixfs-importer) and prints `name cid` lines.
//
//   node import.mjs <chunkSize> <maxLinks> <shardThreshold> <path>...
//
// Settings match the Go client's apart from the hash, which the JS importer fixes to
// sha2-256: CIDv1, raw leaves, fixed-size chunks, balanced layout. The JS importer has no
// identity inlining, so inputs must hold no block of 126 bytes or less.
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { MemoryBlockstore } from 'blockstore-core/memory'
import fs from 'node:fs'
import path from 'node:path'

const [chunkSize, maxLinks, threshold, ...paths] = process.argv.slice(2)

function * entries (root, prefix) {
  const st = fs.statSync(root)
  if (st.isDirectory()) {
    yield { path: prefix }
    for (const name of fs.readdirSync(root).sort()) {
      yield * entries(path.join(root, name), `${prefix}/${name}`)
    }
  } else {
    yield { path: prefix, content: fs.readFileSync(root) }
  }
}

for (const p of paths) {
  const name = path.basename(p)
  let root
  for await (const entry of importer([...entries(p, name)], new MemoryBlockstore(), {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: Number(chunkSize) }),
    layout: balanced({ maxChildrenPerNode: Number(maxLinks) }),
    shardSplitThresholdBytes: Number(threshold)
  })) {
    if (entry.path === name) root = entry.cid
  }
  console.log(`${name} ${root}`)
}
