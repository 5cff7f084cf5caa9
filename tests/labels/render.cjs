// Renders ZPL files to PNG offline with zpl-renderer-js (zebrash compiled to WASM).
// Usage: node render.cjs DPMM WIDTH_MM HEIGHT_MM FILE.zpl... ; writes FILE.png next to each.
const fs = require('fs');
const { ready } = require('zpl-renderer-js');

(async () => {
  const [dpmm, widthMm, heightMm, ...files] = process.argv.slice(2);
  const { api } = await ready;
  for (const file of files) {
    const zpl = fs.readFileSync(file, 'latin1');
    const png = await api.zplToBase64Async(zpl, Number(widthMm), Number(heightMm), Number(dpmm));
    fs.writeFileSync(file.replace(/\.zpl$/, '') + '.png', Buffer.from(png, 'base64'));
  }
  process.exit(0);
})().catch((e) => {
  console.error(`render.cjs: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
