package server_test

import "github.com/callverify/callverify/internal/app"

type appConfig = app.Config
