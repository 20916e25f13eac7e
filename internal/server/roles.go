package server

import (
	"slices"

	"github.com/callverify/callverify/internal/auth"
)

// access says who may call a method.
type access struct {
	anonymous bool
	roles     []auth.Role
}

func roles(r ...auth.Role) access { return access{roles: r} }

var (
	customer = auth.RoleCustomer
	dialer   = auth.RoleDialer
	analyst  = auth.RoleAnalyst
	admin    = auth.RoleAdmin
)

// methodAccess is the one table of who may call what (API.md). admin may do
// everything an analyst may. A method missing here is refused to everybody;
// a test checks that every method of every service is listed.
var methodAccess = map[string]access{
	"/callverify.v1.CallService/StampCall":           roles(dialer),
	"/callverify.v1.CallService/GetCall":             roles(dialer, analyst, admin),
	"/callverify.v1.CallService/EndCall":             roles(dialer),
	"/callverify.v1.CallService/GetConfirmationCode": roles(dialer),
	"/callverify.v1.CallService/ListCalls":           roles(admin),
	"/callverify.v1.CallService/EndCalls":            roles(admin),

	"/callverify.v1.VerifyService/CheckCaller":       roles(customer),
	"/callverify.v1.VerifyService/LookupNumber":      {anonymous: true},
	"/callverify.v1.VerifyService/ListMyCalls":       roles(customer),
	"/callverify.v1.VerifyService/ConfirmCode":       roles(customer),
	"/callverify.v1.VerifyService/VerifyToken":       roles(customer, dialer, analyst, admin),
	"/callverify.v1.VerifyService/ReportCaller":      roles(customer),
	"/callverify.v1.VerifyService/EnrollDevice":      roles(customer),
	"/callverify.v1.VerifyService/DeleteDevice":      roles(customer),
	"/callverify.v1.VerifyService/ListDevices":       roles(customer),
	"/callverify.v1.VerifyService/UpdatePreferences": roles(customer),
	"/callverify.v1.VerifyService/WatchMyCalls":      roles(customer),
	"/callverify.v1.VerifyService/RequestCallback":   roles(customer),
	"/callverify.v1.VerifyService/ListMyCallbacks":   roles(customer),
	"/callverify.v1.VerifyService/CancelCallback":    roles(customer),

	"/callverify.v1.CallbackService/ListCallbacks": roles(dialer),
	"/callverify.v1.CallbackService/ClaimCallback": roles(dialer),

	"/callverify.v1.BlocklistService/CreateEntry":           roles(analyst, admin),
	"/callverify.v1.BlocklistService/GetEntry":              roles(analyst, admin),
	"/callverify.v1.BlocklistService/UpdateEntry":           roles(analyst, admin),
	"/callverify.v1.BlocklistService/DeleteEntry":           roles(analyst, admin),
	"/callverify.v1.BlocklistService/ListEntries":           roles(analyst, admin),
	"/callverify.v1.BlocklistService/CheckNumber":           roles(analyst, admin),
	"/callverify.v1.BlocklistService/ImportEntries":         roles(analyst, admin),
	"/callverify.v1.BlocklistService/ExportEntries":         roles(analyst, admin),
	"/callverify.v1.BlocklistService/ListReportedNumbers":   roles(analyst, admin),
	"/callverify.v1.BlocklistService/ResolveReportedNumber": roles(analyst, admin),
	"/callverify.v1.BlocklistService/ListAuditEvents":       roles(analyst, admin),

	"/callverify.v1.AdminService/CreateOfficialNumber": roles(admin),
	"/callverify.v1.AdminService/ListOfficialNumbers":  roles(admin),
	"/callverify.v1.AdminService/DeleteOfficialNumber": roles(admin),
	"/callverify.v1.AdminService/RotateSigningKey":     roles(admin),
	"/callverify.v1.AdminService/ListSigningKeys":      roles(admin),

	// Health is for load balancers and probes.
	"/grpc.health.v1.Health/Check":                                   {anonymous: true},
	"/grpc.health.v1.Health/Watch":                                   {anonymous: true},
	"/grpc.health.v1.Health/List":                                    {anonymous: true},
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {anonymous: true},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {anonymous: true},
}

func (a access) allows(r auth.Role) bool { return slices.Contains(a.roles, r) }

// MethodAccess says who may call the gRPC method full
// ("/callverify.v1.CallService/StampCall"): anonymous, or the roles listed;
// ok is false for a method nobody may call. The API reference is written
// from it (internal/apidoc).
func MethodAccess(full string) (roles []auth.Role, anonymous, ok bool) {
	a, ok := methodAccess[full]
	return slices.Clone(a.roles), a.anonymous, ok
}
