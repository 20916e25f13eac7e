package boltstore

import (
	"encoding/json"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore/internal/recordpb"
	"github.com/callverify/callverify/internal/store/unixnano"
	"github.com/callverify/callverify/verify"
)

// vCall is a stored call, decoupled from the domain's struct so that a
// rename there does not silently change the file format. It is written as
// a recordpb.Call; the JSON tags are the format of the records written
// before that, which still read.
type vCall struct {
	ID            string    `json:"id"`
	Caller        string    `json:"caller"`
	Callee        string    `json:"callee"`
	CustomerID    string    `json:"customer_id,omitempty"`
	Reason        int       `json:"reason"`
	ReasonText    string    `json:"reason_text,omitempty"`
	OrderRef      string    `json:"order_ref,omitempty"`
	AgentID       string    `json:"agent_id"`
	AgentName     string    `json:"agent_name"`
	DisplayName   string    `json:"display_name,omitempty"`
	OrigID        string    `json:"origid"`
	CreateBy      string    `json:"create_by,omitempty"`
	State         int       `json:"state"`
	WrongAttempts int       `json:"wrong_attempts"`
	CreateTime    time.Time `json:"create_time"`
	ExpireTime    time.Time `json:"expire_time"`
	EndTime       time.Time `json:"end_time"`
	DeviceID      string    `json:"device_id,omitempty"`
	SealedSecret  []byte    `json:"sealed_secret"`
	LastCodeStep  int64     `json:"last_code_step,omitempty"`
	ConfirmTime   time.Time `json:"confirm_time,omitzero"`
	// Gen is the caller's official record's generation when stamped
	// ("" for calls stored before records had one).
	Gen string `json:"gen,omitempty"`
	// CallbackRequestID is the callback request the call answers.
	CallbackRequestID string `json:"callback_request_id,omitempty"`
}

func vCallOf(c verify.Call) vCall {
	return vCall{
		ID: c.ID, Caller: c.Caller.String(), Callee: c.Callee.String(), CustomerID: c.CustomerID,
		Reason: int(c.Reason), ReasonText: c.ReasonText, OrderRef: c.OrderRef, AgentID: c.AgentID,
		AgentName: c.AgentName, DisplayName: c.DisplayName, OrigID: c.OrigID, CreateBy: c.CreateBy,
		State: int(c.State), WrongAttempts: c.WrongAttempts, CreateTime: c.CreateTime, ExpireTime: c.ExpireTime,
		EndTime: c.EndTime, DeviceID: c.DeviceID, SealedSecret: c.SealedSecret,
		LastCodeStep: c.LastCodeStep, ConfirmTime: c.ConfirmTime, Gen: c.Gen, CallbackRequestID: c.CallbackRequestID,
	}
}

func (r vCall) call() verify.Call {
	return verify.Call{
		ID: r.ID, Caller: phone.Number(r.Caller), Callee: phone.Number(r.Callee), CustomerID: r.CustomerID,
		Reason: verify.Reason(r.Reason), ReasonText: r.ReasonText, OrderRef: r.OrderRef, AgentID: r.AgentID,
		AgentName: r.AgentName, DisplayName: r.DisplayName, OrigID: r.OrigID, CreateBy: r.CreateBy,
		State: verify.State(r.State), WrongAttempts: r.WrongAttempts, CreateTime: r.CreateTime,
		ExpireTime: r.ExpireTime, EndTime: r.EndTime, DeviceID: r.DeviceID, SealedSecret: r.SealedSecret,
		LastCodeStep: r.LastCodeStep, ConfirmTime: r.ConfirmTime, Gen: r.Gen, CallbackRequestID: r.CallbackRequestID,
	}
}

// vEncodeCall is the stored form of r: a recordpb.Call.
func vEncodeCall(r vCall) ([]byte, error) {
	return proto.Marshal(&recordpb.Call{
		Id: r.ID, Caller: r.Caller, Callee: r.Callee, CustomerId: r.CustomerID,
		Reason: int32(r.Reason), ReasonText: r.ReasonText, OrderRef: r.OrderRef, AgentId: r.AgentID,
		AgentName: r.AgentName, DisplayName: r.DisplayName, OrigId: r.OrigID, CreateBy: r.CreateBy,
		State: int32(r.State), WrongAttempts: int32(r.WrongAttempts),
		CreateTime: unixnano.FromTime(r.CreateTime), ExpireTime: unixnano.FromTime(r.ExpireTime), EndTime: unixnano.FromTime(r.EndTime),
		DeviceId: r.DeviceID, SealedSecret: r.SealedSecret, LastCodeStep: r.LastCodeStep,
		ConfirmTime: unixnano.FromTime(r.ConfirmTime), Gen: r.Gen, CallbackRequestId: r.CallbackRequestID,
	})
}

// vDecodeCall reads a stored call in either format: JSON (the records
// written before recordpb, which begin with '{') or recordpb.Call.
func vDecodeCall(v []byte) (vCall, error) {
	if len(v) > 0 && v[0] == '{' {
		var r vCall
		err := json.Unmarshal(v, &r)
		return r, err
	}
	var m recordpb.Call
	if err := proto.Unmarshal(v, &m); err != nil {
		return vCall{}, err
	}
	return vCall{
		ID: m.Id, Caller: m.Caller, Callee: m.Callee, CustomerID: m.CustomerId,
		Reason: int(m.Reason), ReasonText: m.ReasonText, OrderRef: m.OrderRef, AgentID: m.AgentId,
		AgentName: m.AgentName, DisplayName: m.DisplayName, OrigID: m.OrigId, CreateBy: m.CreateBy,
		State: int(m.State), WrongAttempts: int(m.WrongAttempts),
		CreateTime: unixnano.ToTime(m.CreateTime), ExpireTime: unixnano.ToTime(m.ExpireTime), EndTime: unixnano.ToTime(m.EndTime),
		DeviceID: m.DeviceId, SealedSecret: m.SealedSecret, LastCodeStep: m.LastCodeStep,
		ConfirmTime: unixnano.ToTime(m.ConfirmTime), Gen: m.Gen, CallbackRequestID: m.CallbackRequestId,
	}, nil
}
