//! Labels and packing slips as a carrier's hub sees them: every built-in label made from the
//! orders in `tests/labels/orders.json` is rendered by an independent ZPL renderer
//! (`zpl-renderer-js`, zebrash compiled to WASM, run offline in Node) and every barcode on it
//! decoded with `zbarimg` (Debian `zbar-tools`). The tracking number, the SSCC (GS1-128 with
//! AI 00 and its check digit) and the QR code must decode to exactly the order's values, and
//! nothing else may be on the label. Packing slips are read back with an ESC/POS decoder
//! written here from the command reference (code page, text, QR model and payload).
//!
//! `STATIOND_UPDATE_DOCS=1 cargo test --test labels` also writes the demo orders' labels and
//! slips to `docs/labels/` (the pictures docs/DEVICES.md shows); `STATIOND_SLIPS_OUT=folder`
//! keeps every slip's bytes there, to compare two builds.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stationd::station::{OrderPayload, OrderState, StoredOrder};

const LABEL_WIDTH_MM: f64 = 101.6;
const LABEL_HEIGHT_MM: f64 = 152.4;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn orders(file: &Path) -> Vec<StoredOrder> {
    let text = std::fs::read_to_string(file).unwrap();
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    list.into_iter()
        // Read as stored, not validated: some orders here are longer than an upsert may carry,
        // to show the renderers hold on their own.
        .map(|o| {
            StoredOrder::new(serde_json::from_value::<OrderPayload>(o).unwrap(), OrderState::Packed, String::new())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// What the station makes (the one place this test touches stationd's rendering).

/// The built-in label of `order` for a printer of `dpi`, or the reason it is refused.
fn label(order: &StoredOrder, dpi: u32) -> Result<Vec<u8>, String> {
    let spec = stationd_drivers::label::LabelSpec { dpi, font: None };
    stationd::documents::label(None, &spec, order).map(|d| d.bytes)
}

/// The packing slip of `order` for paper of `columns` characters.
fn slip(order: &StoredOrder, columns: usize) -> Vec<u8> {
    use stationd_drivers::slip::{CodePage, SlipSpec};
    // CJK text goes to a printer with GB18030; Latin text to the default PC858.
    let cjk = json(order).to_string().chars().any(|c| c as u32 >= 0x2E80);
    let codepage = if cjk { CodePage::Gb18030 } else { CodePage::Pc858 };
    let bytes = stationd::documents::slip(&SlipSpec { codepage, columns }, order, "WH1/PACK-07");
    // STATIOND_SLIPS_OUT=folder keeps the bytes (`<order>-<columns>.escpos`) to compare.
    if let Some(dir) = std::env::var_os("STATIOND_SLIPS_OUT") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("{}-{columns}.escpos", order.id)), &bytes).unwrap();
    }
    bytes
}

/// A packing slip of `slip` for a printer with `codepage` on 80 mm paper.
fn slip_of(slip: &stationd_drivers::slip::Slip, codepage: stationd_drivers::slip::CodePage) -> Vec<u8> {
    stationd_drivers::slip::render(&stationd_drivers::slip::SlipSpec { codepage, columns: 48 }, slip)
}

// ---------------------------------------------------------------------------------------
// The outside tools.

/// Renders ZPL files to PNGs (one Node process for all of them).
fn render_zpl(files: &[PathBuf], dpi: u32) {
    support::require_tool("node", "sudo apt-get install -y nodejs");
    support::require_tool("zbarimg", "sudo apt-get install -y zbar-tools");
    let folder = repo().join("tests/labels");
    assert!(
        folder.join("node_modules/zpl-renderer-js").is_dir(),
        "the ZPL renderer is not installed; install it with: npm ci --prefix tests/labels (tests/ci.sh does this)"
    );
    let dpmm = match dpi {
        300 => 12,
        600 => 24,
        _ => 8,
    };
    let out = Command::new("node")
        .arg(folder.join("render.cjs"))
        .args([dpmm.to_string(), LABEL_WIDTH_MM.to_string(), LABEL_HEIGHT_MM.to_string()])
        .args(files)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "the ZPL renderer failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A barcode zbar found: its type (`CODE-128`, `QR-Code`), whether it carries GS1's FNC1
/// and its data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Symbol {
    kind: String,
    gs1: bool,
    data: String,
}

/// Every barcode zbar decodes in `png`.
fn decode(png: &Path) -> BTreeSet<Symbol> {
    let out = Command::new("zbarimg").args(["--xml", "-q"]).arg(png).output().expect("zbarimg runs");
    // zbarimg exits 4 when it finds no barcode at all.
    assert!(matches!(out.status.code(), Some(0 | 4)), "zbarimg failed: {}", String::from_utf8_lossy(&out.stderr));
    let xml = String::from_utf8_lossy(&out.stdout);
    xml.split("<symbol ")
        .skip(1)
        .map(|s| {
            let attr = |name: &str| {
                s.split_once(&format!("{name}='")).and_then(|(_, r)| r.split_once('\'')).map(|(v, _)| v.to_string())
            };
            let data = s.split_once("<![CDATA[").and_then(|(_, r)| r.split_once("]]>")).map(|(d, _)| d).unwrap_or("");
            Symbol {
                kind: attr("type").unwrap_or_default(),
                gs1: attr("modifiers").is_some_and(|m| m.contains("GS1")),
                data: data.to_string(),
            }
        })
        .collect()
}

fn gs1_check_digit_ok(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = d.split_at(d.len() - 1);
    let sum: u32 = body.iter().rev().enumerate().map(|(i, v)| v * if i % 2 == 0 { 3 } else { 1 }).sum();
    (10 - sum % 10) % 10 == check[0]
}

/// The module width (mm) and height (mm) of every barcode field of a label, from its ZPL.
fn barcode_fields(zpl: &str, dpi: u32) -> Vec<(String, f64, f64, String)> {
    let mm = |dots: f64| dots * 25.4 / f64::from(dpi);
    let mut module = 2.0;
    let mut out = Vec::new();
    for field in zpl.split("^FS") {
        if let Some(by) = field.rsplit_once("^BY").map(|(_, r)| r) {
            module = by.split([',', '^']).next().and_then(|n| n.trim().parse().ok()).unwrap_or(module);
        }
        let Some((_, bar)) = field.rsplit_once("^B").filter(|(_, r)| !r.starts_with('Y')) else { continue };
        let kind = bar.get(..1).unwrap_or("").to_string();
        let height: f64 = bar[1..].split(',').nth(1).and_then(|h| h.trim().parse().ok()).unwrap_or(0.0);
        let data = field.split_once("^FD").map(|(_, d)| d.to_string()).unwrap_or_default();
        out.push((kind, mm(module), mm(height), data));
    }
    out
}

// ---------------------------------------------------------------------------------------
// ESC/POS, read back.

/// What a packing slip tells the printer, decoded from its bytes.
#[derive(Debug, Default)]
struct Decoded {
    /// `ESC t n` values, in order.
    code_pages: Vec<u8>,
    /// Kanji/Chinese mode entered (`FS &`).
    kanji: bool,
    /// Printed lines, decoded through the selected code page.
    lines: Vec<String>,
    /// QR codes: (model, payload).
    qr: Vec<(u8, Vec<u8>)>,
    cut: bool,
}

fn decode_text(bytes: &[u8], code_page: Option<u8>, kanji: bool) -> String {
    if kanji {
        return encoding_rs::GB18030.decode(bytes).0.into_owned();
    }
    match code_page {
        Some(16) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
        Some(19) => bytes.iter().map(|&b| cp858(b)).collect(),
        // PC437 (the printer's default) or anything else: ASCII reads as ASCII, the rest unknown.
        _ => bytes.iter().map(|&b| if b.is_ascii() { b as char } else { '\u{fffd}' }).collect(),
    }
}

/// Code page 858 (PC850 with the euro sign at 0xD5), upper half.
fn cp858(b: u8) -> char {
    const HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈ€ÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■\u{a0}";
    if b < 0x80 {
        b as char
    } else {
        HIGH.chars().nth(usize::from(b - 0x80)).unwrap()
    }
}

fn decode_escpos(b: &[u8]) -> Decoded {
    let mut d = Decoded::default();
    let mut text = Vec::new();
    let mut i = 0;
    let flush = |d: &mut Decoded, text: &mut Vec<u8>| {
        let page = d.code_pages.last().copied();
        d.lines.push(decode_text(text, page, d.kanji));
        text.clear();
    };
    while i < b.len() {
        match b[i] {
            0x0a => {
                flush(&mut d, &mut text);
                i += 1;
            }
            0x1b => {
                let cmd = b[i + 1];
                i += match cmd {
                    b'@' => 2,
                    b't' => {
                        d.code_pages.push(b[i + 2]);
                        3
                    }
                    b'a' | b'E' | b'd' | b'!' | b'-' | b'G' | b'M' | b'R' => 3,
                    other => panic!("unexpected ESC {other:#04x} at byte {i}"),
                };
            }
            0x1c => match b[i + 1] {
                b'&' => {
                    d.kanji = true;
                    i += 2;
                }
                b'.' => {
                    d.kanji = false;
                    i += 2;
                }
                b'C' => i += 3,
                other => panic!("unexpected FS {other:#04x} at byte {i}"),
            },
            0x1d => match b[i + 1] {
                b'(' if b[i + 2] == b'k' => {
                    let len = usize::from(b[i + 3]) + 256 * usize::from(b[i + 4]);
                    let body = &b[i + 5..i + 5 + len];
                    match (body[0], body[1]) {
                        // Model: cn=49, fn=65, n1 = 49 (model 1) or 50 (model 2).
                        (49, 65) => d.qr.push((body[2] - 48, Vec::new())),
                        // Store the data: cn=49, fn=80, m=48, then the payload.
                        (49, 80) => {
                            if d.qr.is_empty() {
                                d.qr.push((0, Vec::new()));
                            }
                            d.qr.last_mut().unwrap().1 = body[3..].to_vec();
                        }
                        _ => {}
                    }
                    i += 5 + len;
                }
                b'V' => {
                    d.cut = true;
                    i += if matches!(b[i + 2], 65 | 66 | 97 | 98) { 4 } else { 3 };
                }
                b'!' | b'B' => i += 3,
                other => panic!("unexpected GS {other:#04x} at byte {i}"),
            },
            c if c < 0x20 => panic!("control byte {c:#04x} in text at byte {i}"),
            _ => {
                text.push(b[i]);
                i += 1;
            }
        }
    }
    if !text.is_empty() {
        flush(&mut d, &mut text);
    }
    d
}

// ---------------------------------------------------------------------------------------

/// The order as it came, as JSON.
fn json(o: &StoredOrder) -> Value {
    serde_json::to_value(&*o.payload).unwrap()
}

fn text(o: &StoredOrder, field: &str) -> Option<String> {
    json(o).get(field).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Renders the labels of `orders` at `dpi`, decodes them and checks each against its order.
/// Returns the PNGs.
fn check_labels(orders: &[StoredOrder], dpi: u32, dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for o in orders {
        let zpl = match label(o, dpi) {
            Ok(z) => z,
            Err(reason) => {
                panic!("label of {} refused: {reason}", o.id);
            }
        };
        let zpl = String::from_utf8(zpl).expect("labels are ASCII");
        for (kind, module_mm, height_mm, data) in barcode_fields(&zpl, dpi) {
            assert!(
                !data.trim_start_matches("QA,").is_empty() && data != "(00)",
                "{}: empty barcode {kind}: {zpl}",
                o.id
            );
            if kind == "C" && data.contains("(00)") {
                assert!(module_mm >= 0.495, "{} at {dpi} dpi: SSCC module {module_mm:.3} mm < 0.495 mm", o.id);
                assert!(height_mm >= 31.75, "{} at {dpi} dpi: SSCC bars {height_mm:.1} mm < 31.75 mm", o.id);
            }
        }
        let file = dir.join(format!("{}-{dpi}.zpl", o.id));
        std::fs::write(&file, &zpl).unwrap();
        files.push((o, file));
    }
    render_zpl(&files.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(), dpi);
    let mut pngs = Vec::new();
    for (o, file) in files {
        let png = file.with_extension("png");
        let found = decode(&png);
        let mut expected = BTreeSet::new();
        if let Some(t) = text(o, "tracking") {
            expected.insert(Symbol { kind: "CODE-128".into(), gs1: false, data: t });
        }
        let sscc = text(o, "sscc");
        if let Some(s) = &sscc {
            expected.insert(Symbol { kind: "CODE-128".into(), gs1: true, data: format!("00{s}") });
        }
        expected.insert(Symbol { kind: "QR-Code".into(), gs1: false, data: o.id.clone() });
        assert_eq!(found, expected, "{} at {dpi} dpi: barcodes decoded from {}", o.id, png.display());
        if let Some(s) = found.iter().find(|s| s.gs1) {
            assert!(s.data.starts_with("00") && s.data.len() == 20 && gs1_check_digit_ok(&s.data[2..]), "{s:?}");
        }
        pngs.push((o.id.clone(), png));
    }
    pngs
}

#[test]
fn every_barcode_on_a_built_in_label_decodes_to_exactly_the_orders_values() {
    let tmp = tempfile::tempdir().unwrap();
    // STATIOND_LABELS_OUT=folder keeps the renderings to look at.
    let tmp = std::env::var_os("STATIOND_LABELS_OUT").map_or(tmp.path().to_path_buf(), PathBuf::from);
    let orders = orders(&repo().join("tests/labels/orders.json"));
    check_labels(&orders, 203, &tmp);
    // Every resolution the config accepts keeps the GS1 sizes and still decodes.
    let latin: Vec<StoredOrder> = orders.iter().filter(|o| o.id == "LBL-LATIN").cloned().collect();
    check_labels(&latin, 300, &tmp);
    check_labels(&latin, 600, &tmp);
}

#[test]
fn a_packing_slip_selects_a_code_page_prints_its_text_aligned_and_a_model_2_qr_code() {
    for o in orders(&repo().join("tests/labels/orders.json")) {
        for columns in [48, 42, 32] {
            let bytes = slip(&o, columns);
            let d = decode_escpos(&bytes);
            assert!(!d.code_pages.is_empty() || d.kanji, "{}: no code page selected", o.id);
            assert_eq!(d.qr.len(), 1, "{}: one QR code", o.id);
            assert_eq!(d.qr[0].0, 2, "{}: QR Model 2 (GS ( k fn 65 n1 = 50)", o.id);
            assert_eq!(d.qr[0].1, o.id.as_bytes(), "{}: QR payload", o.id);
            assert!(d.cut, "{}: cut", o.id);
            for l in &d.lines {
                let width: usize = l.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum();
                assert!(width <= columns, "{}: line wider than {columns} columns: {l:?}", o.id);
            }
            let all = d.lines.join("\n");
            let order = json(&o);
            let name = order["ship_to"]["name"].as_str().unwrap_or_default();
            if columns == 48 && (o.id == "LBL-LATIN" || o.id == "LBL-CJK") {
                assert!(all.contains(name), "{}: {name:?} printed as is in {all:?}", o.id);
                for l in order["lines"].as_array().unwrap() {
                    let item = l["name"].as_str().unwrap();
                    // PC858 has no en dash: a hyphen stands in for it.
                    let item = if o.id == "LBL-LATIN" { item.replace('\u{2013}', "-") } else { item.to_string() };
                    assert!(all.contains(&item), "{}: {item:?} printed as is in {all:?}", o.id);
                }
            }
            // Item lines: the names start in one column, however long the SKU.
            let starts: BTreeSet<usize> = d
                .lines
                .iter()
                // An item row: the quantity right-aligned in the first four columns.
                .filter(|l| l.len() > 4 && l.as_bytes()[3].is_ascii_digit() && l[..4].trim().parse::<u32>().is_ok())
                .filter_map(|l| name_column(l))
                .collect();
            assert!(starts.len() <= 1, "{}: item names start in columns {starts:?}: {:#?}", o.id, d.lines);
        }
    }
}

/// Every character a code page has reads back as itself: PC858's whole upper half (€ at
/// 0xD5) and ASCII (the hyphen 0x2D, where escpos' own PC858 table has 0xF0), and CJK, kana,
/// hangul, Latin and € in GB18030's double-byte mode.
#[test]
fn a_packing_slip_reads_back_every_character_of_its_code_page() {
    use stationd_drivers::slip::{CodePage, Slip};
    let ascii: String = (0x21u8..0x7f).map(char::from).collect();
    // PC858 from 0x80 up, but for the no-break space at 0xFF (a word break when wrapping).
    let pc858 = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈ€ÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■";
    let chars: Vec<char> = format!("{ascii}{pc858}").chars().collect();
    let latin: Vec<String> = chars.chunks(24).map(|c| c.iter().collect()).collect();
    let cjk: Vec<String> =
        ["山田太郎 やまだ タロウ", "김민준 Müller-Łódź", "€ 100,- ½ «Tee»"].map(String::from).to_vec();
    for (codepage, ship_to) in [(CodePage::Pc858, latin), (CodePage::Gb18030, cjk)] {
        let slip = Slip {
            title: "Packing slip".into(),
            order: "SO-1".into(),
            ship_to: ship_to.clone(),
            lines: vec![(1, "SKU-1".into(), "Mug €".into())],
            qr: "SO-1".into(),
            footer: "Packed".into(),
        };
        let d = decode_escpos(&slip_of(&slip, codepage));
        assert_eq!(d.kanji, codepage == CodePage::Gb18030, "{codepage:?}: FS & only for GB18030");
        assert_eq!(d.code_pages, if d.kanji { vec![] } else { vec![19] }, "{codepage:?}: ESC t 19 for PC858");
        for line in &ship_to {
            assert!(d.lines.contains(line), "{codepage:?}: {line:?} reads back in {:#?}", d.lines);
        }
        assert!(d.lines.iter().any(|l| l == "   1 SKU-1  Mug €"), "{codepage:?}: {:#?}", d.lines);
        assert_eq!(d.qr, vec![(2, b"SO-1".to_vec())], "{codepage:?}");
        assert!(d.cut, "{codepage:?}");
    }
}

/// Where the name column of an item line starts: after `qty  sku  `.
fn name_column(line: &str) -> Option<usize> {
    let words: Vec<usize> = line
        .char_indices()
        .filter(|(i, c)| *c != ' ' && (*i == 0 || line[..*i].ends_with(' ')))
        .map(|(i, _)| line[..i].chars().count())
        .collect();
    words.get(2).copied()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6)
}

#[test]
fn demo_orders_render_and_decode_and_their_pictures_are_kept_in_docs() {
    let tmp = tempfile::tempdir().unwrap();
    let orders = orders(&repo().join("config/demo-orders.json"));
    let pngs = check_labels(&orders, 203, tmp.path());
    if std::env::var_os("STATIOND_UPDATE_DOCS").is_some() {
        let docs = repo().join("docs/labels");
        std::fs::create_dir_all(&docs).unwrap();
        for (id, png) in pngs {
            std::fs::copy(png, docs.join(format!("{id}.png"))).unwrap();
        }
        for o in &orders {
            let d = decode_escpos(&slip(o, 42));
            let body = format!("{}\n[QR: {}]\n", d.lines.join("\n"), String::from_utf8_lossy(&d.qr[0].1));
            std::fs::write(docs.join(format!("{}-slip.txt", o.id)), body).unwrap();
        }
    }
}
