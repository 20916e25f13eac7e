package callverifyv1

import _ "embed"

// OpenAPI is the OpenAPI (Swagger 2.0) document generated from the proto.
//
//go:embed callverify.swagger.json
var OpenAPI []byte
