"""Reviews and retained clips from the command line.

  deepfake-detect review REQUEST_ID confirmed_fake --reviewer ann [--note "..."]
        [--url http://127.0.0.1:3000 [--token T]]    # through a running service's POST /feedback
                                                      # (default: straight into the store of the settings)
  deepfake-detect reviews [--request-id ID] [--format table|csv|json]
  deepfake-detect purge-clips          # delete retained clips past their retention (cron)
  deepfake-detect forget REQUEST_ID    # delete one request's retained clips now

Settings: `--settings FILE`, else $DEEPFAKE_SERVING_CONFIG, else configs/serving.yaml (the service's own file,
so the CLI writes where the service reads). Exit status 0 on success, 1 when the review was refused (bad label,
unknown request), 2 for a usage or settings error, 3 when the store or service could not be reached.
`add_subcommands(subparsers)` mounts them under `deepfake-detect` (`deepfake_cli.main`).
"""

from __future__ import annotations

import argparse
import sys

from deepfake_detection.feedback.reviews import LABELS


def _settings(path: str | None):
    from deepfake_detection.service_settings import ServiceSettings

    try:
        return ServiceSettings.load(path)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(_fail(2, f"settings: {str(exc).splitlines()[0]}")) from None


def _fail(code: int, message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def cmd_review(args: argparse.Namespace) -> int:
    body = {"request_id": args.request_id, "label": args.label, "reviewer": args.reviewer, "note": args.note,
            "source": "cli"}  # fmt: skip
    if args.review_id:
        body["review_id"] = args.review_id
    if args.url:
        import requests

        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        try:
            resp = requests.post(f"{args.url.rstrip('/')}/feedback", json=body, headers=headers, timeout=30)
        except requests.RequestException as exc:
            return _fail(3, f"the service at {args.url} could not be reached ({type(exc).__name__})")
        answer = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
        if resp.status_code not in (200, 201):
            return _fail(3 if resp.status_code >= 500 else 1, f"HTTP {resp.status_code}: {answer.get('error', '')}")
        review = answer["review"]
    else:
        from sqlalchemy.exc import SQLAlchemyError

        from deepfake_detection.feedback.reviews import InvalidReview, ReviewConflict, ReviewStore, UnknownRequest
        from deepfake_detection.feedback.reviews import submit_review as submit

        settings = _settings(args.settings)
        store = ReviewStore(settings.reviews.url(settings.request_log_dir))
        try:
            stored, _ = submit(store, [settings.request_log_dir], body["request_id"], body["label"], body["reviewer"],
                               body["note"], "cli", body.get("review_id"), settings.reviews.max_note_chars)  # fmt: skip
        except (InvalidReview, UnknownRequest, ReviewConflict) as exc:
            return _fail(1, str(exc))
        except SQLAlchemyError as exc:
            return _fail(3, f"the review store could not be reached ({type(exc).__name__}); nothing was stored")
        finally:
            store.close()
        review = stored.as_dict()
    print(f"stored review {review['review_id']}: request {review['request_id']} {review['label']} by "
          f"{review['reviewer']} (model version {review.get('model_version')}, "
          f"p_fake {review.get('p_fake')})")  # fmt: skip
    return 0


def cmd_reviews(args: argparse.Namespace) -> int:
    from deepfake_detection.feedback.reviews import ReviewStore

    settings = _settings(args.settings)
    store = ReviewStore(settings.reviews.url(settings.request_log_dir))
    try:
        table = store.table().drop(columns=["features"])
    finally:
        store.close()
    if args.request_id:
        table = table[table["request_id"] == args.request_id]
    if args.format == "json":
        print(table.to_json(orient="records", indent=1))
    elif args.format == "csv":
        print(table.to_csv(index=False), end="")
    else:
        print(table.to_string(index=False) if len(table) else "no reviews")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from deepfake_detection.feedback.retention import purge_expired

    settings = _settings(args.settings)
    report = purge_expired(settings.retention.clip_store)
    print(f"{settings.retention.clip_store}: {report.summary()}")
    if args.verbose and report.deleted:
        print("\n".join(report.deleted))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from deepfake_detection.feedback.retention import forget

    settings = _settings(args.settings)
    try:
        n = forget(settings.retention.clip_store, args.request_id)
    except ValueError as exc:
        return _fail(2, str(exc))
    print(f"deleted {n} retained clip folder(s) of request {args.request_id}")
    return 0


def add_subcommands(subparsers) -> None:
    """The commands, for any argparse CLI (`main` here; the project's CLI can mount them too)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--settings", help="serving settings file (default: $DEEPFAKE_SERVING_CONFIG or "
                        "configs/serving.yaml)")  # fmt: skip
    review = subparsers.add_parser("review", parents=[common], help="store a review of an answered request")
    review.add_argument("request_id", help="the request_id of a /detect answer")
    review.add_argument("label", help=" | ".join(f"{k}: {v}" for k, v in LABELS.items()))
    review.add_argument("--reviewer", required=True, help="who made the judgement")
    review.add_argument("--note", default=None)
    review.add_argument("--review-id", default=None, help="your own id, so a retry never stores it twice")
    review.add_argument("--url", default=None, help="post to this running service instead of writing the store")
    review.add_argument("--token", default=None, help="reviewer bearer token for --url")
    review.set_defaults(run=cmd_review)
    reviews = subparsers.add_parser("reviews", parents=[common], help="list stored reviews")
    reviews.add_argument("--request-id", default=None)
    reviews.add_argument("--format", choices=["table", "csv", "json"], default="table")
    reviews.set_defaults(run=cmd_reviews)
    purge = subparsers.add_parser("purge-clips", parents=[common], help="delete retained clips past retention")
    purge.add_argument("--verbose", action="store_true", help="list the purged request ids")
    purge.set_defaults(run=cmd_purge)
    forget = subparsers.add_parser("forget", parents=[common], help="delete one request's retained clips now")
    forget.add_argument("request_id")
    forget.set_defaults(run=cmd_forget)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepfake-detect", description=__doc__.split("\n\n")[0])
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
