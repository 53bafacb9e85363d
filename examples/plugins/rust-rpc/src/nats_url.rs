//! Credentials in a NATS URL (`nats://user:password@host`, `nats://token@host`): async-nats
//! 0.49 parses them but does not send them, so they are handed to it here, from the first
//! server of the list.

pub fn with_url_credentials(
    options: async_nats::ConnectOptions,
    url: &str,
) -> anyhow::Result<async_nats::ConnectOptions> {
    let first = url.split(',').next().unwrap_or(url).trim();
    let server: async_nats::ServerAddr = first.parse()?;
    Ok(match (server.username(), server.password()) {
        (Some(user), Some(password)) => options.user_and_password(user.into(), password.into()),
        (Some(token), None) => options.token(token.into()),
        _ => options,
    })
}
