/**
 * The report as a reader sees it: rendered by headless Chromium at 900 and 1400 px wide, screenshot taken, no
 * horizontal scroll, every chart inside the page, the verdict on top. Screenshots are kept in
 * reports/report-screenshots/ to be looked at. Without Chromium the test is skipped and says why.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../../src/runtime/report/write.ts';
import { reportFixture } from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';

interface Layout {
  width: number;
  scrollWidth: number;
  innerWidth: number;
  svgs: number[];
  firstHeading: string;
  verdictTop: number;
}
const SHOTS = resolve('reports/report-screenshots');
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed`;
if (missing) console.warn(`report-browser test skipped: ${missing}`);

const profile = mkdtempSync(join(tmpdir(), 'triplex-chromium-'));
afterAll(() => rmSync(profile, { recursive: true, force: true }));

describe.skipIf(missing !== undefined)('report in headless Chromium', () => {
  it('fits 900 and 1400 px without horizontal scroll, verdict first, every chart inside the page', async () => {
    const { chromium } = await import('playwright-core');
    const dir = mkdtempSync(join(tmpdir(), 'triplex-report-browser-'));
    const files = writeReport(dir, await reportFixture());
    mkdirSync(SHOTS, { recursive: true });
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      for (const width of [900, 1400]) {
        const page = await browser.newPage();
        await page.setViewportSize({ width, height: 900 });
        await page.goto(pathToFileURL(files.html).href);
        // Run in the page (a string: this project's types have no DOM).
        const layout = (await page.evaluate(`({
          width: window.innerWidth,
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          svgs: [...document.querySelectorAll('figure > svg')].map((s) => s.getBoundingClientRect().right),
          firstHeading: document.querySelector('.verdict')?.textContent ?? '',
          verdictTop: document.querySelector('.verdict')?.getBoundingClientRect().top ?? 1e9,
        })`)) as Layout;
        const shot = join(SHOTS, `report-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`report screenshot at ${width} px: ${shot}`);
        expect(statSync(shot).size).toBeGreaterThan(10_000);
        expect(layout.width).toBe(width);
        expect(layout.scrollWidth, `horizontal scroll at ${width} px`).toBeLessThanOrEqual(layout.innerWidth);
        expect(layout.svgs.length).toBeGreaterThanOrEqual(9);
        for (const right of layout.svgs) expect(right).toBeLessThanOrEqual(layout.innerWidth);
        expect(layout.firstHeading).toMatch(/^FAILED: no-failsafe: 6 failsafe frames/);
        expect(layout.verdictTop).toBeLessThan(200);
        await page.close();
      }
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
