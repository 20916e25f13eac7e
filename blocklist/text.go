package blocklist

import "github.com/callverify/callverify/internal/text"

// The text policy (internal/text) of the free-text fields of this domain.
// None is shown to a customer, but analysts read them all, and an import
// feed, a customer's report or a stolen admin session is where a fraudster
// would put text for them: so links are refused wherever a person could be
// lured by one. Line breaks are allowed only in the long prose fields: a
// report's note and an official number's description. An entry's reason is
// one line: it is shown in a table row and a CSV cell.
func reasonField() text.Field { return text.Field{Name: "reason", Max: maxReason} }

func noteField() text.Field { return text.Field{Name: "note", Max: maxNote, Multiline: true} }

func displayNameField() text.Field {
	return text.Field{Name: "display_name", Max: maxDisplayName, Required: true}
}

// Only admins write and read the description of an official number; it may
// cite where the number is published ("listed on https://...").
func descriptionField() text.Field {
	return text.Field{Name: "description", Max: maxDescription, Multiline: true, Links: true}
}
