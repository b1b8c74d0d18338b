import { InvalidToken, TokenError } from '../errors.js';
import type { DecodeOptions, Token } from '../tokens/token-service.js';
import type { TokenKind } from '../tokens/kinds.js';
import type { HandlerContext } from './context.js';

/**
 * A token field of a request decoded as `kind`: a refusal (TokenError) becomes InvalidToken, 401 `token_not_valid`
 * with the refusal's message, as simplejwt's serializers answer.
 */
export async function decodeOrInvalid(ctx: HandlerContext, raw: string, kind: TokenKind, options?: DecodeOptions): Promise<Token> {
  try {
    return await ctx.tokens.decode(raw, kind, options);
  } catch (err) {
    if (err instanceof TokenError) throw new InvalidToken(err.msg);
    throw err;
  }
}
