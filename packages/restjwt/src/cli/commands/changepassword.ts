import { Command } from 'commander';
import { audited, changePassword, createPasswordHasher, findUserByUsername } from '@restjwt/core';
import { CliError } from '../errors.js';
import { databaseOption, passwordStdinOption } from '../options.js';
import { readNewPassword } from '../password.js';
import { withStore } from '../store.js';

interface ChangePasswordOptions {
  database: string;
  passwordStdin?: boolean;
}

/** `restjwt changepassword USERNAME`: sets a new password and renews the user's token version. */
export function changePasswordCommand(): Command {
  return new Command('changepassword')
    .description("set a user's password; ends every session (refresh tokens blacklisted; access tokens too where checkRevokeToken is on)")
    .argument('<username>', 'the user whose password to change')
    .addOption(passwordStdinOption())
    .addOption(databaseOption())
    .action(async (username: string, options: ChangePasswordOptions) => {
      const name = await withStore(options.database, async (store) => {
        // The user login would find by this name (its NFKC form first).
        const user = await findUserByUsername(store, username);
        if (user === null) {
          throw new CliError(`There is no user named "${username}". Check the spelling (usernames are case-sensitive), or create it with "restjwt createuser ${username}".`);
        }
        const password = await readNewPassword(username, options.passwordStdin === true);
        // A new token version and every refresh token blacklisted: a password change ends every session.
        // Audited as done from the command line: no actor, no client address (the log says `via: cli`).
        const audit = audited({ store, settings: { auditLog: true } }, 'password_changed', new Date(), null, { userId: user.id, username: user.username, detail: { via: 'cli' } });
        await changePassword({ store, hasher: createPasswordHasher() }, user.id, password, audit);
        return user.username;
      });
      process.stdout.write(`Changed the password of "${name}".\n`);
    });
}
