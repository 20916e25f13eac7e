// Package phone parses phone numbers written in any common form and
// normalises them to E.164 ("+8613800138000"), so that the rest of
// callverify compares, stores and signs numbers in exactly one form.
//
// A [Parser] is bound to a default region (callverify's default is "CN"),
// which is used to interpret numbers written without a country code, such
// as "138 0013 8000" or "010-12345678". Validity is decided by the
// libphonenumber metadata in github.com/nyaruka/phonenumbers, not by
// hand-written rules: a number is accepted when libphonenumber says it is
// a valid number, or when it is a valid short number (for example the
// "95188" or "10086" service numbers in China) for the parser's default
// region. Parse failures are reported as [*InvalidError], whose Reason is
// safe to show to a client and never contains the input.
//
// Phone numbers are personal data. Code in this package must never log or
// print a raw or parsed number, and neither should its callers: log
// [Number.Masked] for a parsed number, or [Mask] for raw input that could
// not be parsed.
package phone
