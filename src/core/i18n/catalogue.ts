/**
 * Every message the wire can carry, in one place so that it can be translated. English strings are simplejwt's
 * (newest release) and Django REST framework's, byte for byte: clients that match on `detail` keep working.
 */
export const en = {
  token_invalid: 'Token is invalid',
  token_expired: 'Token is expired',
  token_invalid_or_expired: 'Token is invalid or expired',
  token_claim_expired: "Token '{claim}' claim has expired",
  token_no_claim: "Token has no '{claim}' claim",
  token_no_id: 'Token has no id',
  token_no_type: 'Token has no type',
  token_wrong_type: 'Token has wrong type',
  token_blacklisted: 'Token is blacklisted',
  token_not_valid_for_any: 'Given token not valid for any token type',
  token_no_user_id: 'Token contained no recognizable user identification',
  bad_authorization_header: 'Authorization header must contain two space-delimited values',
  not_authenticated: 'Authentication credentials were not provided.',
  permission_denied: 'You do not have permission to perform this action.',
  user_not_found: 'User not found',
  user_inactive: 'User is inactive',
  password_changed: "The user's password has been changed.",
  no_active_account: 'No active account found with the given credentials',
  no_active_account_for_token: 'No active account found for the given token.',
  field_required: 'This field is required.',
  field_blank: 'This field may not be blank.',
  field_null: 'This field may not be null.',
  field_not_string: 'Not a valid string.',
  field_too_long: 'Ensure this field has no more than {max} characters.',
  invalid_data: 'Invalid data. Expected a dictionary, but got {type}.',
  no_data: 'No data provided',
  parse_error: 'JSON parse error - {reason}',
  unsupported_media_type: 'Unsupported media type "{type}" in request.',
  method_not_allowed: 'Method "{method}" not allowed.',
  request_too_large: 'Request body is larger than {limit} bytes.',
  not_found: 'Not found.',
  signing_disabled: 'This service has no signing key, so it cannot issue tokens. Set signingKey to issue tokens here.',
  store_unavailable: 'The token store is unavailable. Nothing was issued or changed; try again shortly.',
  server_error: 'A server error occurred.',
} as const;

export type MessageKey = keyof typeof en;
export type Catalogue = Readonly<Record<MessageKey, string>>;

/** French, from Django REST framework's and simplejwt's own translations. */
export const fr: Catalogue = {
  token_invalid: "Le jeton n'est pas valide",
  token_expired: 'Le jeton a expiré',
  token_invalid_or_expired: 'Le jeton est invalide ou expiré',
  token_claim_expired: "La revendication '{claim}' du jeton a expiré",
  token_no_claim: "Le jeton n'a pas de revendication '{claim}'",
  token_no_id: "Le jeton n'a pas d'identifiant",
  token_no_type: "Le jeton n'a pas de type",
  token_wrong_type: "Le jeton n'a pas le bon type",
  token_blacklisted: 'Le jeton est sur liste noire',
  token_not_valid_for_any: "Le jeton donné n'est valide pour aucun type de jeton",
  token_no_user_id: "Le jeton ne contient aucune information permettant d'identifier l'utilisateur",
  bad_authorization_header: "L'en-tête 'Authorization' doit contenir deux valeurs séparées par des espaces",
  not_authenticated: "Informations d'authentification non fournies.",
  permission_denied: "Vous n'avez pas la permission d'effectuer cette action.",
  user_not_found: "L'utilisateur n'a pas été trouvé",
  user_inactive: "L'utilisateur est désactivé",
  password_changed: "Le mot de passe de l'utilisateur a été modifié.",
  no_active_account: "Aucun compte actif n'a été trouvé avec les identifiants fournis",
  no_active_account_for_token: "Aucun compte actif n'a été trouvé pour ce jeton.",
  field_required: 'Ce champ est obligatoire.',
  field_blank: 'Ce champ ne peut être vide.',
  field_null: 'Ce champ ne peut être nul.',
  field_not_string: "Chaîne de caractères invalide.",
  field_too_long: "Assurez-vous que ce champ comporte au plus {max} caractères.",
  invalid_data: 'Donnée invalide. Attendait un dictionnaire, a reçu {type}.',
  no_data: "Aucune donnée n'a été fournie",
  parse_error: 'Erreur d’analyse JSON - {reason}',
  unsupported_media_type: 'Type de média "{type}" non supporté.',
  method_not_allowed: 'Méthode "{method}" non autorisée.',
  request_too_large: 'Le corps de la requête dépasse {limit} octets.',
  not_found: 'Pas trouvé.',
  signing_disabled: "Ce service n'a pas de clé de signature et ne peut pas émettre de jetons. Définissez signingKey pour en émettre ici.",
  store_unavailable: "Le stockage des jetons est indisponible. Rien n'a été émis ni modifié ; réessayez dans un instant.",
  server_error: 'Une erreur du serveur est survenue.',
};

/** The locales shipped with the library; settings may add more. */
export const builtinCatalogues: Readonly<Record<string, Catalogue>> = { en, fr };
