// The check page's words, Chinese first.
export const strings = {
  'zh-CN': {
    brand: '来电核验', title: '这个电话是真的吗？', signinTitle: '登录', tokenLabel: '登录令牌', signin: '登录',
    devNote: '开发模式：输入您的手机号即可登录。', phoneLabel: '手机号', devSignin: '用手机号登录',
    checkTitle: '核验正在来电的号码', callerLabel: '来电号码', check: '核验',
    callsTitle: '正在给您打的官方电话', refresh: '刷新', callbackTitle: '请客服回电', reasonLabel: '事由',
    orderLabel: '订单号（可选）', callbackAsk: '请求回电', signout: '退出登录', switchTo: 'English',
    signedInAs: '已登录：', notToken: '这不是有效的登录令牌。',
    verified: '真实来电', fraud: '很可能是诈骗电话', unknown: '未知号码',
    agent: '客服', reason: '事由', order: '订单', codeSays: '客服会念出的验证码',
    callbackYours: '这是您请求的回电', typeCode: '输入客服念出的验证码', confirm: '核对',
    codeMatch: '验证码正确：这是平台的真实来电。', codeWrong: '验证码不对。还可以再试 {n} 次。',
    codeLocked: '错误次数过多，这个来电已无法核验。请挂断，并拨打官方客服热线。',
    whatNow: '现在该怎么做', report: '举报这个号码', reportNote: '补充说明（可选）', reportSend: '提交举报',
    reported: '已收到您的举报，谢谢。', noCalls: '现在没有官方电话在给您打。',
    liveOn: '新的来电会自动显示。', liveOff: '实时推送暂不可用：每20秒自动刷新一次，也可以点“刷新”。',
    callbackSent: '已提交回电请求，排队位置：{n}。', callbackUnavailable: '回电服务暂未开放。',
    validUntil: '有效至',
    fraudSteps: ['立即挂断，不要按对方的要求操作。', '不要转账，不要透露验证码、密码或银行卡信息。', '如有疑问，请自己拨打官方客服热线核实。'],
  },
  en: {
    brand: 'Caller check', title: 'Is this call genuine?', signinTitle: 'Sign in', tokenLabel: 'Sign-in token', signin: 'Sign in',
    devNote: 'Development mode: type your phone number to sign in.', phoneLabel: 'Phone number', devSignin: 'Sign in with this number',
    checkTitle: 'Check the number that is calling', callerLabel: 'Calling number', check: 'Check',
    callsTitle: 'Official calls to you now', refresh: 'Refresh', callbackTitle: 'Ask customer service to call you back', reasonLabel: 'Reason',
    orderLabel: 'Order number (optional)', callbackAsk: 'Ask for a callback', signout: 'Sign out', switchTo: '中文',
    signedInAs: 'Signed in as ', notToken: 'That is not a sign-in token.',
    verified: 'Genuine call', fraud: 'Very likely a fraud call', unknown: 'Unknown number',
    agent: 'Agent', reason: 'Reason', order: 'Order', codeSays: 'The code the agent will say',
    callbackYours: 'This is the callback you asked for', typeCode: 'Type the code the agent said', confirm: 'Check code',
    codeMatch: 'The code matches: this is a genuine call from the platform.', codeWrong: 'That code is wrong. {n} tries left.',
    codeLocked: 'Too many wrong codes: this call can no longer be verified. Hang up and call the official hotline yourself.',
    whatNow: 'What to do now', report: 'Report this number', reportNote: 'What happened (optional)', reportSend: 'Send report',
    reported: 'Thank you: your report was received.', noCalls: 'No official call to you right now.',
    liveOn: 'New calls show here by themselves.', liveOff: 'Live updates are not available: the list is read again every 20 seconds, or press Refresh.',
    callbackSent: 'Callback requested. Your place in the queue: {n}.', callbackUnavailable: 'Callbacks are not available yet.',
    validUntil: 'valid until',
    fraudSteps: ['Hang up now; do not do what the caller asks.', 'Do not transfer money or tell anyone a code, password or card number.', 'If in doubt, call the official hotline yourself.'],
  },
};

export const reasonNames = {
  'zh-CN': {
    CALL_REASON_FOLLOW_UP: '回访', CALL_REASON_AFTER_SALES: '售后', CALL_REASON_REFUND: '退款', CALL_REASON_DELIVERY: '配送',
    CALL_REASON_ACCOUNT_SECURITY: '账户安全', CALL_REASON_MARKETING: '营销', CALL_REASON_OTHER: '其他',
  },
  en: {
    CALL_REASON_FOLLOW_UP: 'Follow-up', CALL_REASON_AFTER_SALES: 'After-sales', CALL_REASON_REFUND: 'Refund', CALL_REASON_DELIVERY: 'Delivery',
    CALL_REASON_ACCOUNT_SECURITY: 'Account security', CALL_REASON_MARKETING: 'Marketing', CALL_REASON_OTHER: 'Other',
  },
};
