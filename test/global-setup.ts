import { execFileSync } from 'node:child_process';

/** Builds dist/ once: tests that run the CLI or spawn reference-server processes use it. */
export default function globalSetup(): void {
  for (const project of ['tsconfig.build.json', 'tsconfig.browser.json']) {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
  }
}
