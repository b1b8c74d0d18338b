/** Express + passport-jwt, as its README shows: the verify callback looks the user up (same memory store as restjwt). */
import express from 'express';
import passport from 'passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { announce, exitWithParent, PROTECTED_BODY, PUBLIC_BODY, SECRET, setup } from './common.js';

const { restjwt, token } = await setup();
passport.use(
  new Strategy(
    { jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: SECRET, algorithms: ['HS256'] },
    (payload: { user_id?: string }, done: (err: unknown, user?: unknown) => void) => {
      restjwt.store.findUser('id', String(payload.user_id)).then(
        (user) => done(null, user !== null && user.isActive ? user : false),
        (error: unknown) => done(error),
      );
    },
  ),
);
const app = express();
app.use(passport.initialize());
app.get('/api/protected/', passport.authenticate('jwt', { session: false }), (_req, res) => {
  res.json(PROTECTED_BODY);
});
app.get('/api/public/', (_req, res) => {
  res.json(PUBLIC_BODY);
});
const server = app.listen(0, '127.0.0.1', () => announce(server, token));
exitWithParent();
