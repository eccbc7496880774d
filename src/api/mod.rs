//! The HTTP API under `/api/v1`, one file per resource. The server assembles the route table from
//! these routes, the MCP endpoint's and the pages'; every route it holds is listed by discovery and
//! must be described in `openapi.json`.

pub mod access;
pub mod account;
pub mod activity;
pub mod agents;
pub mod artifacts;
pub mod carried;
pub mod comments;
pub mod discovery;
pub mod events;
pub mod idempotency;
pub mod key_requests;
pub mod keys;
pub mod me;
pub mod password_resets;
pub mod publish;
pub mod session;
pub mod setup;
pub mod share;
pub mod share_links;
pub mod stats;
pub mod team;
pub mod upload;
pub mod upload_json;
pub mod versions;
pub mod view_grants;
pub mod views;
pub mod yaml;

use crate::scopes::Scope;
use crate::state::Routes;

/// The routes of the API under `/api/v1` (and the agents' guide, `/llms.txt`).
pub fn routes(r: &mut Routes) {
    r.get("/api/v1", discovery::index)
        .get("/api/v1/health", discovery::health)
        .get("/api/v1/openapi.json", discovery::openapi_json)
        .get("/api/v1/openapi.yaml", discovery::openapi_yaml)
        .get("/llms.txt", discovery::llms_txt);
    r.get("/api/v1/setup", setup::status)
        .post("/api/v1/setup", setup::create_owner);
    r.post("/api/v1/session", session::sign_in)
        .get("/api/v1/session", session::current)
        .delete("/api/v1/session", session::sign_out);
    r.get("/api/v1/me", me::show);
    r.get("/api/v1/keys", keys::list)
        .post("/api/v1/keys", keys::create)
        .delete("/api/v1/keys/{id}", keys::revoke)
        .post("/api/v1/keys/{id}/rotate", keys::rotate);
    // Agent key requests: asked and polled without a key; decided by a signed-in person.
    r.post("/api/v1/key-requests", key_requests::create)
        .post("/api/v1/key-requests/poll", key_requests::poll)
        .get("/api/v1/key-requests/{userCode}", key_requests::show)
        .post(
            "/api/v1/key-requests/{userCode}/approve",
            key_requests::approve,
        )
        .post("/api/v1/key-requests/{userCode}/deny", key_requests::deny);
    r.get("/api/v1/agents", agents::list)
        .post("/api/v1/agents", agents::create)
        .patch("/api/v1/agents/{id}", agents::update)
        .delete("/api/v1/agents/{id}", agents::delete);
    r.get("/api/v1/activity", activity::list);
    r.patch("/api/v1/account", account::update)
        .put("/api/v1/account/password", account::change_password)
        .get("/api/v1/account/sessions", account::sessions)
        .delete("/api/v1/account/sessions", account::end_other_sessions)
        .delete("/api/v1/account/sessions/{id}", account::end_session);
    r.get("/api/v1/team/members", team::members)
        .patch("/api/v1/team/members/{id}", team::update_member)
        .post(
            "/api/v1/team/members/{id}/password-reset",
            password_resets::create,
        )
        .get("/api/v1/team/invites", team::invites)
        .post("/api/v1/team/invites", team::create_invite)
        .delete("/api/v1/team/invites/{id}", team::revoke_invite)
        .post("/api/v1/invites/check", team::check_invite)
        .post("/api/v1/invites/accept", team::accept_invite)
        .post("/api/v1/password-resets/accept", password_resets::accept);
    r.get("/api/v1/artifacts", artifacts::list)
        .post("/api/v1/artifacts", artifacts::create)
        .get("/api/v1/artifacts/{shareToken}", artifacts::show)
        .patch("/api/v1/artifacts/{shareToken}", artifacts::update)
        .delete("/api/v1/artifacts/{shareToken}", artifacts::delete);
    r.get("/api/v1/artifacts/{shareToken}/versions", versions::list)
        .post("/api/v1/artifacts/{shareToken}/versions", versions::create)
        .patch(
            "/api/v1/artifacts/{shareToken}/versions/{number}",
            versions::rename,
        )
        .delete(
            "/api/v1/artifacts/{shareToken}/versions/{number}",
            versions::delete,
        )
        .post(
            "/api/v1/artifacts/{shareToken}/versions/{number}/restore",
            versions::restore,
        )
        .get(
            "/api/v1/artifacts/{shareToken}/versions/{number}/files",
            versions::files,
        )
        .post(
            "/api/v1/artifacts/{shareToken}/versions/{number}/view",
            view_grants::create,
        )
        .get(
            "/api/v1/artifacts/{shareToken}/versions/{number}/files/{path..}",
            versions::file,
        );
    r.get("/api/v1/artifacts/{shareToken}/events", events::stream);
    // Commenting needs no more than the commenter scope.
    r.get("/api/v1/artifacts/{shareToken}/comments", comments::list)
        .post("/api/v1/artifacts/{shareToken}/comments", comments::create)
        .needs(Scope::Commenter)
        .get("/api/v1/comments/{id}", comments::show)
        .patch("/api/v1/comments/{id}", comments::update)
        .needs(Scope::Commenter)
        .delete("/api/v1/comments/{id}", comments::delete)
        .needs(Scope::Commenter)
        .post("/api/v1/comments/{id}/replies", comments::create_reply)
        .needs(Scope::Commenter)
        .patch("/api/v1/replies/{id}", comments::update_reply)
        .needs(Scope::Commenter)
        .delete("/api/v1/replies/{id}", comments::delete_reply)
        .needs(Scope::Commenter);
    r.get("/api/v1/artifacts/{shareToken}/access", access::list)
        .post("/api/v1/artifacts/{shareToken}/access", access::grant)
        .delete("/api/v1/artifacts/{shareToken}/access/{id}", access::revoke);
    r.get(
        "/api/v1/artifacts/{shareToken}/sharelink",
        share_links::show,
    )
    .post(
        "/api/v1/artifacts/{shareToken}/sharelink",
        share_links::create,
    )
    .patch(
        "/api/v1/artifacts/{shareToken}/sharelink",
        share_links::update,
    )
    .delete(
        "/api/v1/artifacts/{shareToken}/sharelink",
        share_links::disable,
    );
    r.get("/api/v1/artifacts/{shareToken}/stats", stats::show);
    r.get("/api/v1/share/{linkToken}", share::show)
        .get("/api/v1/share/{linkToken}/comments", share::list_comments)
        .post("/api/v1/share/{linkToken}/comments", share::create_comment)
        .needs(Scope::Commenter)
        .patch(
            "/api/v1/share/{linkToken}/comments/{id}",
            share::update_comment,
        )
        .needs(Scope::Commenter)
        .delete(
            "/api/v1/share/{linkToken}/comments/{id}",
            share::delete_comment,
        )
        .needs(Scope::Commenter)
        .post(
            "/api/v1/share/{linkToken}/comments/{id}/replies",
            share::create_reply,
        )
        .needs(Scope::Commenter)
        .patch(
            "/api/v1/share/{linkToken}/replies/{id}",
            share::update_reply,
        )
        .needs(Scope::Commenter)
        .delete(
            "/api/v1/share/{linkToken}/replies/{id}",
            share::delete_reply,
        )
        .needs(Scope::Commenter);
}
