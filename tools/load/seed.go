package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// rest sends one JSON request to s's REST API with a token of who (none
// for anonymous) and decodes the answer into out.
func (s *server) rest(ctx context.Context, method, path string, who principal, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.httpAddr+path, rd)
	if err != nil {
		return err
	}
	if who != anonymous {
		tok, err := s.token(ctx, who)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w: %.300s", method, path, err, b)
	}
	return nil
}

// principal is whom a request is made as: each role has one principal.
type principal int

const (
	anonymous principal = iota
	admin
	analyst
	dialer
	customer
)

func (p principal) role() string {
	return [...]string{"", "admin", "analyst", "dialer", "customer"}[p]
}

func (p principal) sub() string { return "load-" + p.role() }

// phone is the customer's number (phone_number claim); others have none.
func (p principal) phone() string {
	if p == customer {
		return customerNumber
	}
	return ""
}

// md is the gRPC metadata that carries who's token.
func (s *server) md(ctx context.Context, who principal) (map[string]string, error) {
	tok, err := s.token(ctx, who)
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// entryCount is the blocklist's size as ListEntries reports it.
func (s *server) entryCount(ctx context.Context) (int64, error) {
	var res struct {
		TotalSize int64 `json:"totalSize"`
	}
	err := s.rest(ctx, http.MethodGet, "/v1/blocklist/entries?pageSize=1", analyst, nil, &res)
	return res.TotalSize, err
}

// seed registers the official line, blocks the fraud number, stamps a call
// to the customer, checks that each hot RPC answers what its row claims,
// and returns the hot RPCs' targets.
func (s *server) seed(ctx context.Context) ([]namedTarget, error) {
	if err := s.rest(ctx, http.MethodPost, "/v1/official-numbers", admin, map[string]any{
		"number": officialLine, "displayName": "Customer service", "direction": "DIRECTION_OUTBOUND",
	}, nil); err != nil {
		return nil, err
	}
	if err := s.rest(ctx, http.MethodPost, "/v1/blocklist/entries", analyst, map[string]any{
		"pattern": fraudNumber, "category": "CATEGORY_IMPERSONATION", "reason": "load harness", "confidence": 90,
	}, nil); err != nil {
		return nil, err
	}
	stamp := `{"callerNumber":"` + officialLine + `","calleeNumber":"%s","reason":"CALL_REASON_AFTER_SALES",` +
		`"reasonText":"退款处理回访","orderRef":"ORD-1001","agentId":"a-7","agentName":"Wang","ttlSeconds":3600}`
	var call struct {
		Call struct {
			CallID string `json:"callId"`
		} `json:"call"`
		Token string `json:"token"`
	}
	if err := s.rest(ctx, http.MethodPost, "/v1/calls", dialer, json.RawMessage(fmt.Sprintf(stamp, customerNumber)), &call); err != nil {
		return nil, err
	}
	checkVerified := `{"callerNumber":"` + officialLine + `","language":"en"}`
	checkFraud := `{"callerNumber":"` + fraudNumber + `","language":"en"}`
	verifyToken := `{"token":"` + call.Token + `","callerNumber":"` + officialLine + `","calleeNumber":"` + customerNumber + `"}`
	getCode := `{"callId":"` + call.Call.CallID + `"}`
	lookup := `{"number":"` + fraudNumber + `","language":"en"}`

	// Each row measures the answer its name gives: check it once.
	var verdict struct {
		Verdict string `json:"verdict"`
	}
	for _, q := range []struct{ path, body, want string }{
		{"/v1/verify/caller", checkVerified, "VERDICT_VERIFIED"},
		{"/v1/verify/caller", checkFraud, "VERDICT_KNOWN_FRAUD"},
		{"/v1/verify/number", lookup, "VERDICT_KNOWN_FRAUD"},
	} {
		who := customer
		if q.path == "/v1/verify/number" {
			who = anonymous
		}
		if err := s.rest(ctx, http.MethodPost, q.path, who, json.RawMessage(q.body), &verdict); err != nil {
			return nil, err
		}
		if verdict.Verdict != q.want {
			return nil, fmt.Errorf("%s %s: verdict %s, want %s", q.path, q.body, verdict.Verdict, q.want)
		}
	}
	var valid struct {
		Valid   bool   `json:"valid"`
		Failure string `json:"failure"`
	}
	if err := s.rest(ctx, http.MethodPost, "/v1/tokens:verify", customer, json.RawMessage(verifyToken), &valid); err != nil {
		return nil, err
	}
	if !valid.Valid {
		return nil, fmt.Errorf("VerifyToken of the stamped call's token: %s", valid.Failure)
	}
	if err := s.rest(ctx, http.MethodGet, "/v1/calls/"+call.Call.CallID+"/code", dialer, nil, nil); err != nil {
		return nil, err
	}

	customerMD, err := s.md(ctx, customer)
	if err != nil {
		return nil, err
	}
	dialerMD, err := s.md(ctx, dialer)
	if err != nil {
		return nil, err
	}
	return []namedTarget{
		{"health", grpcTarget{method: healthMethod}},
		{"CheckCaller VERIFIED", grpcTarget{method: verifyService + "CheckCaller", md: customerMD, data: checkVerified}},
		{"CheckCaller KNOWN_FRAUD", grpcTarget{method: verifyService + "CheckCaller", md: customerMD, data: checkFraud}},
		{"VerifyToken", grpcTarget{method: verifyService + "VerifyToken", md: customerMD, data: verifyToken}},
		{"GetConfirmationCode", grpcTarget{method: callService + "GetConfirmationCode", md: dialerMD, data: getCode}},
		{"LookupNumber (anonymous)", grpcTarget{method: verifyService + "LookupNumber", data: lookup}},
		// Last: it grows the store. Each request calls another customer.
		{"StampCall", grpcTarget{method: callService + "StampCall", md: dialerMD,
			data: fmt.Sprintf(stamp, stampCallees)}},
	}, nil
}

// restTarget is CheckCaller of the stamped line over REST.
func (s *server) restTarget(ctx context.Context) (httpTarget, error) {
	tok, err := s.token(ctx, customer)
	if err != nil {
		return httpTarget{}, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Content-Type", "application/json")
	return httpTarget{method: http.MethodPost, url: "http://" + s.httpAddr + "/v1/verify/caller", header: h,
		body: []byte(`{"callerNumber":"` + officialLine + `","language":"en"}`)}, nil
}
