// Package text is callverify's one policy for free text that a person will
// read: a customer on the phone (a call's reason text, agent name and id,
// order reference, customer id, the caller's display name, a device label)
// or an analyst at a console (a blocklist entry's reason, a report's note,
// an official number's description).
//
// Such text is where a fraudster who got hold of a dialer, an import feed
// or a customer account would put words of their own in front of a victim.
// So every field is valid UTF-8, trimmed, bounded in characters, and free of
// anything that hides, reorders or forges what a screen shows: control
// characters (C0, C1, DEL), line and paragraph separators, bidirectional
// overrides, embeddings, isolates and marks, zero-width and other invisible
// formatting characters, blank "filler" letters, private-use and
// non-characters, and long stacks of combining marks. Only the long prose
// fields (Field.Multiline) may hold line breaks; "\r\n" and "\r" become
// "\n". Unless a field is marked Field.Links, it must not hold anything a
// person could take for a link or a web address in any script ([LooksLikeLink]).
//
// Text that breaks the policy is refused with a fault.Invalid naming the
// field and the reason; it is never silently altered beyond trimming and
// line-ending normalisation, so what was stored is what the writer saw.
// The package must not depend on transport or storage, and holds no
// mutable state.
package text
