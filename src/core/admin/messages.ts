/**
 * The admin API's own messages. They live apart from the token endpoints' catalogue (`i18n/catalogue.ts`), whose
 * strings must stay byte-for-byte simplejwt's; the English here is Django's where Django has the same message.
 */
import { en as coreEn, builtinCatalogues, type MessageKey } from '../i18n/catalogue.js';
import type { Message } from '../i18n/translate.js';
import { fillTemplate, render } from '../i18n/translate.js';

export const adminEn = {
  username_invalid: 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
  username_exists: 'A user with that username already exists.',
  email_invalid: 'Enter a valid email address.',
  email_exists: 'A user with that email address already exists.',
  password_too_short: 'This password is too short. It must contain at least {min} characters.',
  not_a_boolean: 'Must be a valid boolean.',
  not_an_integer: 'A valid integer is required.',
  integer_too_small: 'Ensure this value is greater than or equal to {min}.',
  integer_too_large: 'Ensure this value is less than or equal to {max}.',
  cannot_deactivate_self: 'You cannot deactivate your own account: ask another staff member.',
  sessions_unsupported: 'This store does not record sessions or list tokens; use the memory, SQLite or SQL store.',
  last_login_method:
    "This is the user's last way to sign in (no usable password and no other linked identity): set a password for them first.",
  identities_unsupported: 'This store does not record linked identities (social login); use the memory, SQLite or SQL store.',
} as const;

export type AdminMessageKey = keyof typeof adminEn;
export type AdminCatalogue = Readonly<Record<AdminMessageKey, string>>;

/** French, in Django's wording where Django has the message. */
export const adminFr: AdminCatalogue = {
  username_invalid:
    'Saisissez un nom d’utilisateur valide. Il ne peut contenir que des lettres, des nombres ou les caractères « @ », « . », « + », « - » et « _ ».',
  username_exists: 'Un utilisateur avec ce nom existe déjà.',
  email_invalid: 'Saisissez une adresse e-mail valide.',
  email_exists: 'Un utilisateur avec cette adresse e-mail existe déjà.',
  password_too_short: 'Ce mot de passe est trop court. Il doit contenir au minimum {min} caractères.',
  not_a_boolean: 'Doit être un booléen valide.',
  not_an_integer: 'Un nombre entier valide est requis.',
  integer_too_small: 'Assurez-vous que cette valeur est supérieure ou égale à {min}.',
  integer_too_large: 'Assurez-vous que cette valeur est inférieure ou égale à {max}.',
  cannot_deactivate_self: 'Vous ne pouvez pas désactiver votre propre compte : demandez à un autre membre de l’équipe.',
  sessions_unsupported: 'Ce stockage n’enregistre pas les sessions et ne liste pas les jetons ; utilisez le stockage mémoire, SQLite ou SQL.',
  last_login_method:
    'C’est le dernier moyen de connexion de cet utilisateur (pas de mot de passe utilisable ni d’autre identité liée) : définissez-lui d’abord un mot de passe.',
  identities_unsupported:
    'Ce stockage n’enregistre pas les identités liées (connexion sociale) ; utilisez le stockage mémoire, SQLite ou SQL.',
};

const adminCatalogues: Readonly<Record<string, AdminCatalogue>> = { en: adminEn, fr: adminFr };

/** A message of the admin API: one of its own keys, or a key of the core catalogue (`field_required`, …). */
export interface AdminMessage {
  key: AdminMessageKey | MessageKey;
  params?: Readonly<Record<string, string | number>>;
}

const isAdminKey = (key: string): key is AdminMessageKey => Object.hasOwn(adminEn, key);

/** Renders `message` in `locale` (English when the locale has no admin or core translation). */
export function renderAdminMessage(message: AdminMessage, locale: string): string {
  const { key, params } = message;
  if (isAdminKey(key)) {
    return fillTemplate((adminCatalogues[locale] ?? adminEn)[key], params);
  }
  const core: Message = params === undefined ? { key } : { key, params };
  return render(builtinCatalogues[locale] ?? coreEn, core);
}
