// Package guard is the AI gateway's prompt guard. Before a prompt leaves
// for an LLM provider it redacts personal data and secrets, looks for
// prompt-injection attempts, and refuses prompts that match a route's deny
// patterns.
//
// # Redaction
//
// Each value found is replaced by a marker of its kind, so that the model
// still sees that something was there: [REDACTED_EMAIL], [REDACTED_PHONE],
// [REDACTED_CARD], [REDACTED_IBAN], [REDACTED_NATIONAL_ID],
// [REDACTED_SECRET]. Markers contain no quote or backslash, so text inside
// a JSON string stays JSON, and no detector matches them, so redacting
// twice changes nothing. The detectors favour precision: each needs a
// shape and, where the format has one, a check, and ordinary numbers
// (dates, prices, versions, IP addresses, order numbers, timestamps,
// UUIDs, hashes) are not values.
//
//   - email: local@domain.tld, the top-level domain two or more letters;
//     not git@host (git's ssh user) nor name@2x.png (image names).
//   - phone: + and 8 to 15 digits (E.164, separators allowed); or, with
//     separators, a North American number ((555) 123-4567, 555-123-4567,
//     1-800-555-1234) or a national number with a trunk 0 and 9 to 12
//     digits (020 7946 0958, 030 123456, 01 23 45 67 89). A bare run of
//     digits is not a phone.
//   - card: 13 to 19 digits, whole or grouped as cards are printed
//     (4-4-4-4, 4-6-5, ...) with single spaces or dashes, starting 2 to 6
//     (the major networks) and Luhn-valid.
//   - iban: the country code of one of the ~90 IBAN countries, check
//     digits and the country's length, whole or in groups of four, and
//     mod-97 valid.
//   - national_id: US Social Security numbers (NNN-NN-NNNN with dashes;
//     area 000, 666 and 9xx, group 00 and serial 0000 never issued), UK
//     National Insurance numbers (allocated prefix letters, suffix A-D),
//     Spanish DNI and NIE numbers (with their check letter).
//   - secret: OpenAI and Anthropic keys (sk-, sk-proj-, sk-ant-), AWS access
//     key ids (AKIA, ASIA), GitHub (ghp_, gho_, ghu_, ghs_, ghr_,
//     github_pat_), GitLab (glpat-), Slack (xoxa-, xoxb-, xoxp-, xoxr-,
//     xoxs-), Google API keys (AIza), Stripe live keys (sk_live_, rk_live_),
//     Hugging Face (hf_), JWTs, bearer credentials, PEM private key blocks
//     (the whole block), and the value of an assignment to a key named
//     like a password, secret, token or API key (password=..., "api_key":
//     "...", DB_PASSWORD: ...), unless it is a placeholder or a reference
//     (${VAR}, os.environ[...]).
//
// Not covered: other countries' national ids (their formats collide with
// ordinary numbers without a check), postal addresses and names (which need
// a language model, not a pattern), local phone numbers without an area
// code, dates of birth, unprefixed high-entropy strings, and values split
// by markup or spelled out in words.
//
// # Prompt injection
//
// The heuristics read a normalized text: lowercase, compatibility forms,
// accents and Cyrillic/Greek look-alikes folded, leetspeak digits read as
// letters, JSON escapes decoded, zero-width, bidi and tag characters
// removed (tags decoded to the ASCII they smuggle), punctuation and
// whitespace collapsed. They are:
//
//   - ignore_previous: "ignore/disregard/forget (all) (the)
//     previous/prior/above instructions/prompts/rules", "ignore the above",
//     "forget everything you were told";
//   - persona_switch: you are now DAN/unrestricted/in developer mode, act as
//     an unfiltered AI, do anything now, jailbroken;
//   - system_prompt_leak: reveal/print/repeat your system prompt or hidden
//     instructions, repeat the words above;
//   - role_marker: chat-template tokens in text (<|im_start|>, [INST],
//     <<SYS>>, <start_of_turn>, ### System:, </s> before a turn);
//   - new_instructions: "new instructions:", override your instructions,
//     system override, this message supersedes all previous rules;
//   - hidden_text: zero-width, bidi or tag characters in a text that also
//     matched another heuristic.
//
// They are heuristics: they miss paraphrases and other languages, and a
// text about prompt injection can match. Phrasings that ordinary text uses
// ("you can ignore the above", "follow the previous instructions in the
// manual", "how do I print the system prompt") are kept out.
//
// # Deny patterns
//
// Deny patterns are Go (RE2) regular expressions matched against each
// message's text and each tool call's arguments, after redaction. A
// literal every match must contain (a keyword, in any case under (?i)) is
// looked for first, so that a pattern RE2 cannot skip ahead for costs a
// byte scan, not a regexp run, on the prompts it does not match.
//
// # Cost
//
// Everything is linear in the text: hand-written scanners find the values,
// and the heuristics run small anchored RE2 expressions only where a
// trigger word starts and the words a phrase needs follow. On a 2 KB
// prompt the whole check costs some twenty passes of a plain byte loop
// (about 16 µs on a slow, shared 2-vCPU VM) and allocates nothing; with
// values to redact it is about twice that (BenchmarkCheckChat).
package guard
