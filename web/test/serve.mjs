// A billsim server for a browser or SDK test: `billsim serve --http` on
// loopback ports, its log in `dir`. start() resolves with the HTTP base
// URL once the server prints it; stop() ends the server whatever state it
// is in (SIGTERM, then SIGKILL after 10 s).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export function serve(billsim, dir, extraArgs = []) {
  const server = spawn(billsim, ['serve', '--log', join(dir, 'log'), '--listen', '127.0.0.1:0',
                                 '--http', '127.0.0.1:0', ...extraArgs],
                       { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => { stderr += d; });
  const start = () => new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not print its address')), 20000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /^http on (\S+)$/m.exec(out);
      if (m) { clearTimeout(timer); resolve('http://' + m[1]); }
    });
    server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  const stop = async () => {
    server.kill('SIGTERM');
    await new Promise((r) => { if (server.exitCode !== null) r(); else server.on('exit', r); setTimeout(r, 10000); });
    if (server.exitCode === null) server.kill('SIGKILL');
  };
  return { start, stop };
}
