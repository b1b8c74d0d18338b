import { Command } from 'commander';
import { createPasswordHasher, createUserNormalized } from '@restjwt/core';
import { databaseOption, passwordStdinOption } from '../options.js';
import { readNewPassword } from '../password.js';
import { withStore } from '../store.js';

interface CreateUserOptions {
  database: string;
  email?: string;
  staff?: boolean;
  inactive?: boolean;
  passwordStdin?: boolean;
}

/** `restjwt createuser USERNAME`: adds a user with an argon2id password hash. */
export function createUserCommand(): Command {
  return new Command('createuser')
    .description('create a user')
    .argument('<username>', 'the new user\'s username (stored in NFKC form, as Django does)')
    .option('--email <email>', 'email address')
    .option('--staff', 'mark the user as staff (passes the isStaff permission)')
    .option('--inactive', 'create the user inactive (cannot log in until activated)')
    .addOption(passwordStdinOption())
    .addOption(databaseOption())
    .addHelpText('after', '\nExample:\n  printf %s "$PASSWORD" | restjwt createuser alice --email alice@example.com --password-stdin\n')
    .action(async (username: string, options: CreateUserOptions) => {
      // Open the store before asking for the password, so a bad --database fails before anyone types.
      const user = await withStore(options.database, async (store) => {
        const password = await readNewPassword(username, options.passwordStdin === true);
        const passwordHash = await createPasswordHasher().hash(password);
        // Stored in NFKC form, as Django does; a look-alike of an existing name is refused (UserExistsError).
        return createUserNormalized(store, {
          username,
          email: options.email ?? '',
          passwordHash,
          isStaff: options.staff === true,
          isActive: options.inactive !== true,
        });
      });
      process.stdout.write(`Created user "${user.username}" (id ${user.id}${user.isActive ? '' : ', inactive'}${user.isStaff ? ', staff' : ''}).\n`);
      if (user.username !== username) {
        process.stderr.write(`Note: "${username}" was stored in its NFKC form "${user.username}", as Django stores usernames; log in with either.\n`);
      }
    });
}
