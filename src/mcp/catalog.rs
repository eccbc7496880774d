//! The tools this server offers over MCP, as `tools/list` describes them: each with its input
//! JSON Schema, the schema of its `structuredContent`, and honest hints (read-only, destructive,
//! idempotent; none reaches beyond this server). Deterministic order, built once.

use std::sync::LazyLock;

use serde_json::{json, Value};

use crate::api::comments::CommentView;
use crate::scopes::Scope;

/// Most characters `read_file` returns at once.
pub const READ_MAX_CHARS: u64 = 100_000;
/// What `read_file` returns when not told.
pub const READ_DEFAULT_CHARS: u64 = 20_000;
/// Longest `wait_for_feedback` waits.
pub const WAIT_MAX_SECONDS: u64 = 120;
/// What `wait_for_feedback` waits when not told.
/// Below the 60 s after which common MCP clients (the TypeScript SDK's default) give up on a call.
pub const WAIT_DEFAULT_SECONDS: u64 = 50;
/// Most comments `list_comments` returns at once: a REST listing's page.
pub const COMMENTS_MAX: u64 = crate::api::comments::PAGE_MAX;
/// What `list_comments` returns when not told.
pub const COMMENTS_DEFAULT: u64 = 50;
/// Replies of a thread always shown (besides new or edited ones in a wait): the newest this many.
pub const RECENT_REPLIES: usize = 10;
/// Replies `get_comment` returns at once.
pub const REPLIES_PAGE: usize = 50;
/// About how many characters of JSON a listing's result holds at most: clients cap what a tool
/// may return (Claude Code: 25,000 tokens), and a result they cut is lost to the model. A page
/// stops before the thread (or reply) that would go past it, with the cursor to go on from;
/// one thread or reply always comes.
pub const RESULT_BUDGET: usize = 40_000;

/// Leaves out the oldest of the thread's shown replies until the thread fits `RESULT_BUDGET`;
/// returns how many it left out. A thread whose comment alone is larger keeps none.
pub fn fit_replies(thread: &mut CommentView) -> usize {
    let mut size = serde_json::to_string(&*thread).map_or(0, |t| t.len());
    let mut dropped = 0;
    while size > RESULT_BUDGET && dropped < thread.replies.len() {
        size -= serde_json::to_string(&thread.replies[dropped]).map_or(0, |r| r.len() + 1);
        dropped += 1;
    }
    thread.replies.drain(..dropped);
    dropped
}

/// What a publication's `cursor` is for.
const PUBLISHED_CURSOR: &str = "pass it to wait_for_feedback as after: it hears of every comment made after this publication, however soon";
const SHARE_TOKEN: &str = "the artifact's shareToken (from publish_artifact or list_artifacts)";
const COMMENT_ID: &str =
    "the comment's id, a string such as \"12\" (from list_comments or wait_for_feedback)";
const MILLISECONDS: &str = "milliseconds since 1970-01-01 UTC";

fn read_only() -> Value {
    json!({ "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false })
}

fn writes(idempotent: bool) -> Value {
    json!({ "readOnlyHint": false, "destructiveHint": false, "idempotentHint": idempotent, "openWorldHint": false })
}

fn identity() -> Value {
    json!({
        "type": "object",
        "required": ["kind", "id", "name"],
        "properties": {
            "kind": { "enum": ["user", "agent"] },
            "id": { "type": "string" },
            "name": { "type": "string" },
            "role": { "type": "string" }
        }
    })
}

fn comment() -> Value {
    json!({
        "type": "object",
        "required": ["id", "content", "author", "resolved", "createdAt", "version", "target", "replies"],
        "properties": {
            "id": { "type": "string" },
            "content": { "type": "string" },
            "author": identity(),
            "resolved": { "type": "boolean" },
            "resolvedAt": { "type": ["integer", "null"], "description": MILLISECONDS },
            "createdAt": { "type": "integer", "description": MILLISECONDS },
            "updatedAt": { "type": "integer", "description": MILLISECONDS },
            "editedAt": { "type": ["integer", "null"], "description": "when its author last changed its text (milliseconds since 1970-01-01 UTC); null if never" },
            "viaShareLink": { "type": "boolean", "description": "written through the artifact's share link by someone signed in on its page (not a reviewer)" },
            "version": { "type": "string", "description": "the version it was made on, e.g. v2" },
            "target": { "type": "object", "description": "the file (source) and the passage (selector), as stored" },
            "earlierRepliesOmitted": { "type": "integer", "minimum": 0, "description": "older replies left out of replies (get_comment pages through them all)" },
            "replies": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "content", "author", "createdAt"],
                    "properties": {
                        "id": { "type": "string" },
                        "content": { "type": "string" },
                        "author": identity(),
                        "createdAt": { "type": "integer", "description": MILLISECONDS },
                        "editedAt": { "type": ["integer", "null"], "description": MILLISECONDS },
                        "viaShareLink": { "type": "boolean" }
                    }
                }
            }
        }
    })
}

/// A comment as `list_comments` shows it: with where it stands in the latest version.
fn with_in_latest(mut schema: Value) -> Value {
    if let Some(required) = schema["required"].as_array_mut() {
        required.push(json!("inLatest"));
    }
    schema["properties"]["inLatest"] = json!({
        "enum": ["madeOnIt", "fileUnchanged", "found", "notFound", "fileRemoved", "fileChanged", "unknown"],
        "description": "where the comment stands in the latest version: made on it; its file unchanged (the passage stands as it did); found (its file changed, the quoted passage is still there); notFound (the passage is gone: perhaps your change addressed it); fileRemoved; fileChanged (a comment on the whole file); unknown (no quoted text to look for)"
    });
    schema
}

/// A comment with a page of its replies (`get_comment`).
fn thread_page() -> Value {
    let mut schema = comment();
    if let Some(required) = schema["required"].as_array_mut() {
        required.push(json!("nextRepliesCursor"));
    }
    schema["properties"]["nextRepliesCursor"] = json!({
        "type": ["string", "null"],
        "description": "pass it as repliesCursor for the next replies; null when there are no more"
    });
    schema
}

fn artifact() -> Value {
    json!({
        "type": "object",
        "required": ["id", "name", "shareToken", "shareUrl", "latestVersion", "stats"],
        "properties": {
            "id": { "type": "string" },
            "name": { "type": "string" },
            "description": { "type": "string" },
            "shareToken": { "type": "string" },
            "shareUrl": { "type": "string", "description": "the review page: give it to people" },
            "latestVersion": { "type": ["integer", "null"] },
            "activityAt": { "type": "integer" },
            "stats": {
                "type": "object",
                "properties": {
                    "commentCount": { "type": "integer" },
                    "unresolvedCommentCount": { "type": "integer" }
                }
            },
            "role": { "enum": ["owner", "reviewer"] }
        }
    })
}

fn upload_properties() -> Value {
    json!({
        "content": {
            "type": "string",
            "description": "the file: HTML or Markdown as text (at most 5 MB), or a ZIP of a static site as base64 (at most 50 MB, each file in it at most 5 MB, at most 500 files; REST multipart suits big ZIPs better)"
        },
        "fileType": { "enum": ["html", "markdown", "zip"], "description": "default: from fileName's extension; a new artifact needs fileType or fileName (a new version has its latest version's)" },
        "fileName": { "type": "string", "description": "e.g. report.html, notes.md, site.zip; with a fileType of another kind, the type's extension is added (a.html as markdown is a.html.md)" },
        "entryPoint": { "type": "string", "description": "ZIP only: the page to open first (default index.html)" },
        "clientRequestId": client_request_id()
    })
}

/// The optional argument that makes a creating tool safe to call again.
fn client_request_id() -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": 255,
        "description": "any id of yours for this call (a UUID, say): called again with the same id and arguments (after a timeout, a lost answer), the tool gives the first answer again and creates nothing more; the same id with other arguments is refused (idempotency_key_reused); kept 24 hours"
    })
}

/// `reply`'s answer: the thread, and the id of the reply made.
fn replied() -> Value {
    let mut out = comment();
    out["properties"]["replyId"] =
        json!({ "type": "string", "description": "the reply this call made" });
    if let Some(required) = out["required"].as_array_mut() {
        required.push(json!("replyId"));
    }
    out
}

/// `resolve`'s answer: the comment, and a notice when a note was given to a comment resolved
/// already (not posted).
fn resolved() -> Value {
    let mut out = comment();
    out["properties"]["notice"] = json!({ "type": "string" });
    out
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

static TOOLS: LazyLock<Value> = LazyLock::new(|| {
    json!([
        {
            "name": "whoami",
            "title": "Who am I",
            "description": "Who this API key acts as (you, or one of your agents), the account behind it, and the key itself. Start here to check the connection.",
            "inputSchema": { "type": "object", "additionalProperties": false },
            "outputSchema": {
                "type": "object",
                "required": ["identity", "user", "authenticatedBy"],
                "properties": {
                    "identity": identity(),
                    "user": { "type": "object", "required": ["id", "name", "email"], "properties": {
                        "id": { "type": "string" }, "name": { "type": "string" }, "email": { "type": "string" }, "role": { "type": "string" } } },
                    "key": { "type": "object" },
                    "authenticatedBy": { "const": "key" }
                }
            },
            "annotations": read_only()
        },
        {
            "name": "list_artifacts",
            "title": "List artifacts",
            "description": "Artifacts you own and those shared with you, newest activity first, with their open comment counts. Page with cursor.",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "q": { "type": "string", "maxLength": 200, "description": "only names containing this text" },
                    "sort": { "enum": ["activity", "created"], "description": "default activity: newest activity first, to see what moved; an artifact that gets activity while you page jumps ahead of your cursor and is missed by that pass (it is first in the next). created: newest first, every artifact exactly once, for a complete pass" },
                    "limit": { "type": "integer", "minimum": 1, "maximum": 200, "description": "default 50" },
                    "cursor": { "type": "string", "description": "nextCursor of the previous page" }
                }
            },
            "outputSchema": {
                "type": "object",
                "required": ["artifacts", "nextCursor"],
                "properties": {
                    "artifacts": { "type": "array", "items": artifact() },
                    "nextCursor": { "type": ["string", "null"] }
                }
            },
            "annotations": read_only()
        },
        {
            "name": "get_artifact",
            "title": "Get an artifact",
            "description": "One artifact: its versions (number, name, author, date) and the files of one version (default the latest).",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["shareToken"],
                "properties": {
                    "shareToken": { "type": "string", "description": SHARE_TOKEN },
                    "version": { "type": ["integer", "string"], "description": "a version number: 3, \"3\" or \"v3\" as listings say it (default the latest)" }
                }
            },
            "outputSchema": {
                "type": "object",
                "required": ["artifact", "versions", "version", "entryPoint", "files"],
                "properties": {
                    "artifact": artifact(),
                    "versions": { "type": "array", "items": { "type": "object", "required": ["number", "isLatest"], "properties": {
                        "number": { "type": "integer" }, "name": { "type": ["string", "null"] }, "fileType": { "type": "string" },
                        "createdAt": { "type": "integer" }, "createdBy": identity(), "isLatest": { "type": "boolean" } } } },
                    "version": { "type": "integer" },
                    "entryPoint": { "type": "string" },
                    "files": { "type": "array", "items": { "type": "object", "required": ["path", "size", "contentType"], "properties": {
                        "path": { "type": "string" }, "size": { "type": "integer" }, "contentType": { "type": "string" } } } }
                }
            },
            "annotations": read_only()
        },
        {
            "name": "read_file",
            "title": "Read a file",
            "description": format!("The text of one file of a version (default: the latest version's first page), {READ_DEFAULT_CHARS} characters at a time from offset (at most {READ_MAX_CHARS}). A binary file (an image, a font) is not returned: the answer says so."),
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["shareToken"],
                "properties": {
                    "shareToken": { "type": "string", "description": SHARE_TOKEN },
                    "version": { "type": ["integer", "string"], "description": "a version number: 3, \"3\" or \"v3\" as listings say it (default the latest)" },
                    "path": { "type": "string", "description": "a file of the version (default its entry point)" },
                    "offset": { "type": "integer", "minimum": 0, "description": "characters to skip (default 0)" },
                    "maxChars": { "type": "integer", "minimum": 1, "maximum": READ_MAX_CHARS, "description": format!("default {READ_DEFAULT_CHARS}") }
                }
            },
            "outputSchema": {
                "type": "object",
                "required": ["path", "version", "contentType", "size", "binary"],
                "properties": {
                    "path": { "type": "string" },
                    "version": { "type": "integer" },
                    "contentType": { "type": "string" },
                    "size": { "type": "integer", "description": "bytes" },
                    "binary": { "type": "boolean" },
                    "text": { "type": ["string", "null"] },
                    "offset": { "type": "integer" },
                    "totalChars": { "type": "integer" },
                    "truncated": { "type": "boolean" },
                    "nextOffset": { "type": ["integer", "null"] },
                    "encoding": { "type": "string", "description": "the text's encoding as the browser reads it (UTF-8, or e.g. windows-1252, Shift_JIS for an older file)" },
                    "note": { "type": "string" }
                }
            },
            "annotations": read_only()
        },
        {
            "name": "publish_artifact",
            "title": "Publish an artifact",
            "description": "Publishes a new artifact (an HTML page, a Markdown document, or a base64 ZIP of a small static site) as version 1, attributed to you or to the agent this key acts as. The shareUrl opens its review page for you and for the reviewers you add (add_reviewer, or Manage → Reviewers on that page); anyone else gets \"not found\" there. Then wait_for_feedback with the cursor it returns as after.",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "content"],
                "properties": with(json!({
                    "name": { "type": "string", "minLength": 1, "maxLength": 200 },
                    "description": { "type": "string", "maxLength": 500 },
                    "versionName": { "type": "string", "maxLength": 100 }
                }), upload_properties())
            },
            "outputSchema": {
                "type": "object",
                "required": ["id", "shareToken", "shareUrl", "version", "cursor"],
                "properties": {
                    "id": { "type": "string" }, "shareToken": { "type": "string" }, "shareUrl": { "type": "string" },
                    "cursor": { "type": "string", "description": PUBLISHED_CURSOR },
                    "latestVersionId": { "type": "string" }, "version": { "type": "integer" },
                    "fileType": { "type": "string" }, "entryPoint": { "type": "string" }
                }
            },
            "annotations": writes(false)
        },
        {
            "name": "publish_version",
            "title": "Publish a new version",
            "description": "Publishes the next version of an artifact you own (after addressing feedback). Without fileType and fileName it is of the same type as the latest version, and a single document keeps its file name unless fileName says otherwise (entryPoint in the answer), so comments go on finding their file. Comments stay on the version they were made on; list_comments then says where each stands in the new version (inLatest: found, notFound...), as the review page shows them. Then wait_for_feedback with the cursor it returns as after.",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["shareToken", "content"],
                "properties": with(json!({
                    "shareToken": { "type": "string", "description": SHARE_TOKEN },
                    "name": { "type": "string", "maxLength": 100, "description": "the version's name, e.g. 'fixed the totals'" }
                }), upload_properties())
            },
            "outputSchema": {
                "type": "object",
                "required": ["versionId", "number", "entryPoint", "viewUrl", "cursor"],
                "properties": { "cursor": { "type": "string", "description": PUBLISHED_CURSOR }, "versionId": { "type": "string" }, "number": { "type": "integer" }, "entryPoint": { "type": "string" }, "viewUrl": { "type": "string" }, "status": { "type": "string", "enum": ["ready"] } }
            },
            "annotations": writes(false)
        },
        {
            "name": "add_reviewer",
            "title": "Add a reviewer",
            "description": "Lets a person review an artifact you own: they can then open its shareUrl (the review page), read its files and comments, comment and reply. By email: an account with that address gets access at once (status added); an address without one is pending (status pending) until that person signs up on this server, which an admin invites them to. Adding someone twice is refused (already_granted).",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["shareToken", "email"],
                "properties": {
                    "shareToken": { "type": "string", "description": SHARE_TOKEN },
                    "email": { "type": "string", "maxLength": 254, "description": "the reviewer's email address, as their account has it" }
                }
            },
            "outputSchema": {
                "type": "object",
                "required": ["id", "email", "name", "role", "status", "createdAt"],
                "properties": {
                    "id": { "type": "string" },
                    "email": { "type": "string" },
                    "name": { "type": ["string", "null"], "description": "the account's name; null while pending" },
                    "role": { "enum": ["can-comment"] },
                    "status": { "enum": ["added", "pending", "viewed"], "description": "added: they can review now; pending: when they sign up" },
                    "createdAt": { "type": "integer", "description": MILLISECONDS }
                }
            },
            "annotations": writes(false)
        },
        {
            "name": "list_comments",
            "title": "List comments",
            "description": format!("Comments on an artifact with their newest {RECENT_REPLIES} replies (earlierRepliesOmitted counts the others: get_comment has them), oldest first: open ones by default, of every version by default (each says its version, and inLatest where it stands in the latest version: after publish_version, notFound says its passage is gone). Up to {COMMENTS_DEFAULT} at a time, fewer when long threads would make the result too large to read; page with nextCursor."),
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["shareToken"],
                "properties": {
                    "shareToken": { "type": "string", "description": SHARE_TOKEN },
                    "status": { "enum": ["open", "resolved", "all"], "description": "default open" },
                    "version": { "type": ["integer", "string"], "description": "a version number, or \"all\" (default)" },
                    "source": { "type": "string", "description": "only comments on this file" },
                    "limit": { "type": "integer", "minimum": 1, "maximum": COMMENTS_MAX, "description": format!("default {COMMENTS_DEFAULT}") },
                    "cursor": { "type": "string", "description": "nextCursor of the previous page" }
                }
            },
            "outputSchema": {
                "type": "object",
                "required": ["version", "comments", "nextCursor"],
                "properties": {
                    "version": { "type": "string" },
                    "comments": { "type": "array", "items": with_in_latest(comment()) },
                    "nextCursor": { "type": ["string", "null"] }
                }
            },
            "annotations": read_only()
        },
        {
            "name": "get_comment",
            "title": "Read a thread",
            "description": format!("One comment with its replies, oldest first, up to {REPLIES_PAGE} replies at a time (fewer when they are long); page with repliesCursor. For a thread whose replies list_comments or wait_for_feedback left out."),
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["commentId"],
                "properties": {
                    "commentId": { "type": ["string", "integer"], "description": COMMENT_ID },
                    "repliesCursor": { "type": "string", "description": "nextRepliesCursor of the previous call (default: from the first reply)" }
                }
            },
            "outputSchema": thread_page(),
            "annotations": read_only()
        },
        {
            "name": "add_comment",
            "title": "Comment",
            "description": "Comments on the latest version: on a passage, given as plain text in quote (as it reads in the page, not its markup; the server finds it and anchors the comment; when the text repeats, give near: words close to the one you mean; when the page's own scripts write it, give scripted: true), or on a whole file without quote.",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["shareToken", "content"],
                "properties": {
                    "shareToken": { "type": "string", "description": SHARE_TOKEN },
                    "content": { "type": "string", "minLength": 1, "maxLength": 10000 },
                    "quote": { "type": "string", "minLength": 1, "maxLength": 2000, "description": "the passage, as plain text" },
                    "near": { "type": "string", "minLength": 1, "maxLength": 2000, "description": "words standing close to the passage meant, if the quote repeats (its own sentence first, then the closest)" },
                    "source": { "type": "string", "description": "the file (default the first page)" },
                    "scripted": { "type": "boolean", "description": "the passage may be text that the HTML page's own scripts write, which is not in the file: if the server does not find it there, the quote is kept as given and the review page looks for it once the page has run" },
                    "clientRequestId": client_request_id()
                }
            },
            "outputSchema": comment(),
            "annotations": writes(false)
        },
        {
            "name": "reply",
            "title": "Reply",
            "description": "Replies to a comment (of any version), e.g. to say what you changed. Returns the thread, and replyId: your new reply.",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["commentId", "content"],
                "properties": {
                    "commentId": { "type": ["string", "integer"], "description": COMMENT_ID },
                    "content": { "type": "string", "minLength": 1, "maxLength": 5000 },
                    "clientRequestId": client_request_id()
                }
            },
            "outputSchema": replied(),
            "annotations": writes(false)
        },
        {
            "name": "resolve",
            "title": "Resolve a comment",
            "description": "Marks a comment resolved; with note, first replies with it (say what you changed). Resolving a resolved comment changes nothing and does not post the note (the answer's notice says so).",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["commentId"],
                "properties": {
                    "commentId": { "type": ["string", "integer"], "description": COMMENT_ID },
                    "note": { "type": "string", "minLength": 1, "maxLength": 5000 }
                }
            },
            "outputSchema": resolved(),
            "annotations": writes(true)
        },
        {
            "name": "reopen",
            "title": "Reopen a comment",
            "description": "Marks a resolved comment open again.",
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "required": ["commentId"],
                "properties": { "commentId": { "type": ["string", "integer"], "description": COMMENT_ID } }
            },
            "outputSchema": comment(),
            "annotations": writes(true)
        },
        {
            "name": "wait_for_feedback",
            "title": "Wait for feedback",
            "description": format!("Waits (up to timeoutSeconds, at most {WAIT_MAX_SECONDS}) until someone else comments, replies, reopens a comment (a fix was not accepted) or edits one on an artifact (or on any artifact you can see), and returns one item per thread with news: kind says which (comment, reopened, reply, edited: the first that applies), newReplyIds the new replies, editedReplyIds the edited ones; a thread comes with its newest replies and the newest of its new and edited ones (10 of each at most: get_comment reads the others). Pass the cursor it returns as after next time, so nothing is missed or seen twice."),
            "inputSchema": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "shareToken": { "type": "string", "description": "default: any artifact you can see" },
                    "timeoutSeconds": { "type": "integer", "minimum": 1, "maximum": WAIT_MAX_SECONDS, "description": format!("default {WAIT_DEFAULT_SECONDS}; keep it below your client's timeout for a tool call (many clients give up after 60 s): with nothing new, the answer comes after this long, with timedOut true and a cursor to wait again with") },
                    "after": { "type": "string", "description": "the cursor of the previous call, or the one publish_artifact or publish_version returned (default: from now; \"0\": from the beginning)" }
                }
            },
            "outputSchema": {
                "type": "object",
                "required": ["timedOut", "cursor", "feedback"],
                "properties": {
                    "timedOut": { "type": "boolean" },
                    "cursor": { "type": "string" },
                    "feedback": { "type": "array", "items": {
                        "type": "object",
                        "required": ["kind", "shareToken", "artifactName", "newReplyIds", "editedReplyIds", "earlierRepliesOmitted", "comment"],
                        "properties": {
                            "kind": { "enum": ["comment", "reopened", "reply", "edited"] },
                            "shareToken": { "type": "string" },
                            "artifactName": { "type": "string" },
                            "replyId": { "type": "string", "description": "the first new reply" },
                            "newReplyIds": { "type": "array", "items": { "type": "string" } },
                            "editedReplyIds": { "type": "array", "items": { "type": "string" }, "description": "replies their authors edited meanwhile (in comment.replies, however old)" },
                            "earlierRepliesOmitted": { "type": "integer", "minimum": 0, "description": "replies left out of comment.replies (get_comment has them all)" },
                            "comment": comment()
                        }
                    } }
                }
            },
            "annotations": read_only()
        }
    ])
});

/// Every tool, in a fixed order.
pub fn tools() -> &'static Value {
    &TOOLS
}

/// The scope a key needs for a tool: the read-only tools `reader`, the comment tools
/// `commenter`, publishing `editor` (as the REST routes they stand for).
pub fn needs(name: &str) -> Scope {
    match name {
        "add_comment" | "reply" | "resolve" | "reopen" => Scope::Commenter,
        "publish_artifact" | "publish_version" | "add_reviewer" => Scope::Editor,
        _ => Scope::Reader,
    }
}

/// The tools a key with `scope` may call, as `tools/list` shows them to it.
pub fn tools_for(scope: Scope) -> Value {
    let all = TOOLS.as_array().map(Vec::as_slice).unwrap_or_default();
    Value::Array(
        all.iter()
            .filter(|t| scope.allows(needs(t["name"].as_str().unwrap_or_default())))
            .cloned()
            .collect(),
    )
}

/// Whether a tool of this name exists.
pub fn exists(name: &str) -> bool {
    TOOLS
        .as_array()
        .is_some_and(|all| all.iter().any(|t| t["name"] == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_name_schemas_and_hints() {
        let all = tools().as_array().expect("a list");
        assert_eq!(all.len(), 14);
        for tool in all {
            let name = tool["name"].as_str().expect("a name");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
            assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
            assert_eq!(tool["inputSchema"]["additionalProperties"], false, "{name}");
            assert!(tool["outputSchema"].is_object(), "{name}");
            for hint in [
                "readOnlyHint",
                "destructiveHint",
                "idempotentHint",
                "openWorldHint",
            ] {
                assert!(tool["annotations"][hint].is_boolean(), "{name} {hint}");
            }
            assert!(!tool["description"].as_str().unwrap_or_default().is_empty());
        }
        assert!(exists("wait_for_feedback"));
        assert!(!exists("drop_tables"));
    }
}
