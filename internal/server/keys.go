package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/verify"
)

// Signing keys of the call tokens (AdminService): proto <-> verify.Service.

func (a *adminServer) RotateSigningKey(ctx context.Context, _ *callverifyv1.RotateSigningKeyRequest) (*callverifyv1.SigningKey, error) {
	k, err := a.d.Verify.RotateSigningKey(ctx, actor(ctx))
	if err != nil {
		return nil, err
	}
	return signingKeyToProto(k)
}

func (a *adminServer) ListSigningKeys(ctx context.Context, _ *callverifyv1.ListSigningKeysRequest) (*callverifyv1.ListSigningKeysResponse, error) {
	keys, err := a.d.Verify.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := &callverifyv1.ListSigningKeysResponse{SigningKeys: make([]*callverifyv1.SigningKey, 0, len(keys))}
	for _, k := range keys {
		pk, err := signingKeyToProto(k)
		if err != nil {
			return nil, err
		}
		out.SigningKeys = append(out.SigningKeys, pk)
	}
	return out, nil
}

func signingKeyToProto(k verify.KeyInfo) (*callverifyv1.SigningKey, error) {
	jwk, err := structpb.NewStruct(k.PublicJWK)
	if err != nil {
		return nil, fmt.Errorf("public JWK of %s to struct: %w", k.ID, err)
	}
	return &callverifyv1.SigningKey{
		Kid:          k.ID,
		Algorithm:    k.Algorithm,
		State:        callverifyv1.SigningKeyState(k.State),
		CreateTime:   timestamppb.New(k.CreateTime),
		RetireTime:   optTime(k.RetireTime),
		PublishUntil: optTime(k.PublishUntil),
		PublicJwk:    jwk,
	}, nil
}
