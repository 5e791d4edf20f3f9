// PDF (and PNG) of the HTML report, printed by Chromium through playwright-core. The CLI uses Debian's
// Chromium (/usr/bin/chromium); the desktop app prints with Electron's printToPDF instead. Chromium runs
// headless in a throw-away profile with networking features off; every request is refused (the report
// needs none), so printing never reaches the network.

import { access, mkdtemp, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where Chromium is looked for: $RRLHF_CHROMIUM, then Debian's and other common locations. */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium', '/snap/bin/chromium'];

export class ChromiumMissingError extends Error {
  constructor(tried: string[]) {
    super(`Chromium is needed to print the PDF but was not found (looked at ${tried.join(', ')}). `
      + 'Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu), or set RRLHF_CHROMIUM to a Chromium or Chrome executable; the HTML report does not need it.');
    this.name = 'ChromiumMissingError';
  }
}

async function executable(p: string): Promise<boolean> {
  try { await access(p, constants.X_OK); return true; } catch { return false; }
}

/** The Chromium executable to use, or null when there is none. */
export async function findChromium(): Promise<string | null> {
  const env = process.env.RRLHF_CHROMIUM;
  if (env) return (await executable(env)) ? env : null;
  for (const p of CHROMIUM_CANDIDATES) if (await executable(p)) return p;
  return null;
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'];

type Page = import('playwright-core').Page;

/** Opens the HTML in a headless Chromium page (all network requests refused) and runs `fn` on it. */
export async function withReportPage<T>(html: string, fn: (page: Page) => Promise<T>, opts: { width?: number } = {}): Promise<T> {
  const exe = await findChromium();
  if (!exe) throw new ChromiumMissingError(process.env.RRLHF_CHROMIUM ? [process.env.RRLHF_CHROMIUM] : CHROMIUM_CANDIDATES);
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-chromium-'));
  let context: import('playwright-core').BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: exe, headless: true, args: CHROMIUM_ARGS, timeout: 60_000,
      viewport: { width: opts.width ?? 1040, height: 900 }, offline: true,
    });
    await context.route('**/*', (route) => route.abort());
    const page = context.pages()[0] ?? await context.newPage();
    await page.setContent(html, { waitUntil: 'load', timeout: 60_000 });
    return await fn(page);
  } finally {
    await context?.close().catch(() => undefined);
    await rm(profile, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Prints the HTML to PDF (A4, backgrounds kept, page numbers in the footer). */
export async function htmlToPdf(html: string, opts: { title?: string } = {}): Promise<Buffer> {
  const title = (opts.title ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return withReportPage(html, async (page) => {
    await page.emulateMedia({ media: 'print' });
    return page.pdf({
      format: 'A4', printBackground: true, preferCSSPageSize: true, displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate: `<div style="font-size:8px;color:#666;width:100%;padding:0 11mm;display:flex;justify-content:space-between;font-family:sans-serif"><span>${title}</span><span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>`,
      margin: { top: '12mm', bottom: '14mm', left: '11mm', right: '11mm' },
    });
  });
}

/** A full-page PNG screenshot of the HTML as it looks on screen. */
export async function htmlToPng(html: string, opts: { width?: number } = {}): Promise<Buffer> {
  return withReportPage(html, (page) => page.screenshot({ fullPage: true, type: 'png' }), opts);
}
