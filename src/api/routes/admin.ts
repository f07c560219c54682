// Bull Board at /admin/queues (admin only) and its sign-in: /admin/login page, POST/DELETE /admin/session.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import cookieParser from 'cookie-parser';
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { QUEUE_NAMES } from '../../shared/queues.js';
import { adminGuard, AdminSessions, clearSessionCookie, SESSION_COOKIE, SESSION_TTL_SECONDS, startSession } from '../admin-session.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';

const BASE = '/admin/queues';

const LOGIN_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ArtStore queues: sign in</title>
<style>body{font:15px system-ui;max-width:40rem;margin:4rem auto}textarea{width:100%;height:8rem}</style></head>
<body><h1>ArtStore queues</h1>
<p>Paste an admin token (<code>npm run -s token -- --role admin --sub you</code>) to open the queue dashboard for ${SESSION_TTL_SECONDS / 60} minutes.</p>
<form id="f"><textarea id="t" required></textarea><p><button>Sign in</button> <span id="e"></span></p></form>
<script src="/admin/login.js"></script></body></html>`;

const LOGIN_JS = `document.getElementById('f').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const res = await fetch('/admin/session', { method: 'POST', headers: { Authorization: 'Bearer ' + document.getElementById('t').value.trim() } });
  if (res.ok) { location.href = '${BASE}'; return; }
  const body = await res.json().catch(() => ({}));
  document.getElementById('e').textContent = body.detail || ('sign-in failed: ' + res.status);
});`;

export function adminRoutes(ctx: ApiContext, sessions: AdminSessions): RouteSpec[] {
  return [
    defineRoute({
      method: 'post',
      path: '/admin/session',
      summary: 'Exchange an admin bearer token for a short-lived HttpOnly session cookie (for the Bull Board page)',
      tag: 'operations',
      permission: 'admin:queues',
      responses: {
        204: { description: `Set-Cookie: ${SESSION_COOKIE} (HttpOnly, SameSite=Strict, Secure over TLS and in production; ${SESSION_TTL_SECONDS} s at most, never past the token's exp)` },
        ...errors(401, 403),
      },
      handler: async (req, res) => {
        await startSession(req, res, sessions, principalOf(res), ctx.config.nodeEnv);
        res.status(204).end();
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/session',
      summary: 'Sign out of the queue dashboard',
      tag: 'operations',
      permission: 'public',
      responses: { 204: { description: 'the session is gone' } },
      handler: async (req, res) => {
        const cookie = (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
        if (cookie) await sessions.destroy(cookie);
        clearSessionCookie(res);
        res.status(204).end();
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/login',
      summary: 'Sign-in page of the queue dashboard',
      tag: 'operations',
      permission: 'public',
      responses: { 200: { description: 'HTML', contentType: 'text/html', schema: z.string() } },
      handler: (_req, res) => {
        res.type('html').send(LOGIN_HTML);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/login.js',
      summary: 'Script of the sign-in page',
      tag: 'operations',
      permission: 'public',
      responses: { 200: { description: 'JavaScript', contentType: 'text/javascript', schema: z.string() } },
      handler: (_req, res) => {
        res.type('text/javascript').send(LOGIN_JS);
      },
    }),
  ];
}

/** Bull Board's own router behind the admin guard, for every queue of the registry. */
export function bullBoardRouter(ctx: ApiContext, sessions: AdminSessions): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BASE);
  createBullBoard({
    queues: Object.values(QUEUE_NAMES).map((name) => new BullMQAdapter(ctx.queues[name])),
    serverAdapter,
    options: { uiConfig: { boardTitle: `ArtStore ${ctx.config.elementId}` } },
  });
  const router = Router();
  router.use(BASE, adminGuard(ctx.verifier, sessions), serverAdapter.getRouter());
  return router;
}

/** Where cookies are parsed: the /admin paths only (the API itself is bearer-only). */
export const ADMIN_COOKIES_PATH = '/admin';

/** Cookie parsing; the app mounts it at ADMIN_COOKIES_PATH itself, so other requests pass no router of its own. */
export function adminCookies(): RequestHandler {
  return cookieParser();
}
