#!/usr/bin/env node
/**
 * The `restjwt` command: the reference server and the management commands simplejwt users know from Django
 * (`createuser`, `changepassword`, `flushexpiredtokens`, `migrate`), plus `keygen`, `importdjango` and `checkusernames`.
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { changePasswordCommand } from './commands/changepassword.js';
import { checkUsernamesCommand } from './commands/checkusernames.js';
import { createUserCommand } from './commands/createuser.js';
import { flushAuditCommand } from './commands/flushaudit.js';
import { flushExpiredTokensCommand } from './commands/flushexpiredtokens.js';
import { importDjangoCommand } from './commands/importdjango.js';
import { keygenCommand } from './commands/keygen.js';
import { migrateCommand } from './commands/migrate.js';
import { rotateKeyCommand } from './commands/rotatekey.js';
import { serveCommand } from './commands/serve.js';
import { reportError } from './errors.js';

/** The package version, read from package.json (two levels up from both src/cli and dist/cli). */
function version(): string {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Builds the command tree. */
function buildProgram(): Command {
  const program = new Command('restjwt')
    .description('JWT authentication server and management commands (djangorestframework-simplejwt compatible)')
    .version(version())
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      '\nEnvironment: RESTJWT_DATABASE (database URL), RESTJWT_SETTINGS (settings JSON), RESTJWT_SIGNING_KEY,\n' +
        'REDIS_URL (revocation cache shared by several instances), RESTJWT_DB_POOL_SIZE (server database pool),\n' +
        'RESTJWT_REQUEST_LOG=0 (serve: no log line per request, as --no-request-log), RESTJWT_DEBUG=1 (stack traces on\n' +
        'errors).\n',
    );
  for (const command of [
    serveCommand(),
    createUserCommand(),
    changePasswordCommand(),
    flushExpiredTokensCommand(),
    flushAuditCommand(),
    migrateCommand(),
    keygenCommand(),
    importDjangoCommand(),
    checkUsernamesCommand(),
    rotateKeyCommand(),
  ]) {
    program.addCommand(command.showHelpAfterError('(add --help for usage)'));
  }
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    // Exit at once: a half-started command may hold handles (a prompt, a store) that would keep the process alive.
    process.exit(reportError(error));
  });
