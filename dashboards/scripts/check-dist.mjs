// Fails when the committed dist/ is not what the sources build to: the server embeds dist/, so a
// source change without a rebuild would ship a stale dashboard.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const root = fileURLToPath(new URL("..", import.meta.url));
const fresh = mkdtempSync(join(tmpdir(), "blendlab-dist-"));
try {
  await build({ root, logLevel: "warn", build: { outDir: fresh, emptyOutDir: true } });
  const files = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : [path];
    });
  const committed = join(root, "dist");
  const want = files(fresh).map((f) => relative(fresh, f)).sort();
  const have = files(committed).map((f) => relative(committed, f)).sort();
  const stale = [...new Set([...want, ...have])].filter(
    (f) => !want.includes(f) || !have.includes(f) || !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))),
  );
  if (stale.length) {
    console.error(`dashboards/dist is stale (${stale.join(", ")}): run \`make dashboard\` and commit dist/.`);
    process.exit(1);
  }
  console.log(`dashboards/dist matches its sources (${have.length} files).`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
