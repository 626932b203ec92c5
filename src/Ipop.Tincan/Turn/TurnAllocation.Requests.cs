using Ipop.Tincan.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Turn;

/// <summary>Authenticated requests to the server: long-term credentials, nonce renewal and answer authentication (RFC 8489 section 9.2).</summary>
internal sealed partial class TurnAllocation
{
    private async Task<StunResponse> SendAsync(StunMethod method, BodyWriter body, StunRetransmissionPolicy? policy, CancellationToken cancellationToken)
    {
        policy ??= _timings.Retransmission;
        int retries = 0;
        byte[] buffer = new byte[RequestBufferSize];
        while (true)
        {
            byte[]? key = _key;
            int length = BuildRequest(buffer, method, body, key);
            StunResponseValidator? validator = key is null ? null : m => IsAuthentic(m, key);
            StunResponse response = await _transactions.SendRequestAsync(buffer.AsSpan(0, length), ServerAddress, policy, validator, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccess || key is null)
            {
                return response;
            }

            // RFC 8489 section 9.2.5: 438 means our nonce expired: retry with the one in the response.
            // A 401 with a fresh nonce (server restarted, nonce rotated) also earns one retry.
            string? oldNonce = _nonce;
            int code = response.ErrorCode;
            if (retries < 3 && (code == StunErrorCodes.StaleNonce || (code == StunErrorCodes.Unauthorized && retries == 0))
                && TryUpdateRealmAndNonce(response) && (code == StunErrorCodes.StaleNonce || !string.Equals(oldNonce, _nonce, StringComparison.Ordinal)))
            {
                retries++;
                if (code == StunErrorCodes.StaleNonce)
                {
                    LogStaleNonce(_logger, Server, method);
                }

                continue;
            }

            return response;
        }
    }

    /// <summary>
    /// RFC 8489 section 9.2.5: once a request carried our credentials, only 401 and 438 answers may come without
    /// MESSAGE-INTEGRITY (the server did not accept the credentials or the nonce, so it cannot sign). Any other
    /// answer without a valid one is discarded as if never received: otherwise an attacker who knows no password
    /// could hand us a relayed address, or kill the allocation with a forged 437 to a Refresh.
    /// </summary>
    private static bool IsAuthentic(StunMessage response, byte[] key)
    {
        if (response.HasMessageIntegrity)
        {
            return response.VerifyMessageIntegrity(key);
        }

        return response.Class == StunMessageClass.ErrorResponse
            && response.TryGetErrorCode(out int code, out _)
            && code is StunErrorCodes.Unauthorized or StunErrorCodes.StaleNonce;
    }

    private int BuildRequest(byte[] buffer, StunMethod method, BodyWriter body, byte[]? key)
    {
        var writer = new StunMessageWriter(buffer, method, StunMessageClass.Request, StunTransactionId.NewRandom());
        body(ref writer);
        if (key is not null)
        {
            writer.AppendString(StunAttributeType.Username, Server.Credentials.Username);
            writer.AppendString(StunAttributeType.Realm, _realm!);
            writer.AppendString(StunAttributeType.Nonce, _nonce!);
            writer.AppendMessageIntegrity(key);
        }

        writer.AppendFingerprint();
        return writer.Length;
    }

    private bool TryUpdateRealmAndNonce(StunResponse response)
    {
        StunMessage view = response.View;
        if (!view.TryGetString(StunAttributeType.Nonce, out string? nonce, maxBytes: 763) || string.IsNullOrEmpty(nonce))
        {
            return false;
        }

        if (view.TryGetString(StunAttributeType.Realm, out string? realm, maxBytes: 763) && !string.IsNullOrEmpty(realm) && !string.Equals(realm, _realm, StringComparison.Ordinal))
        {
            _realm = realm;
            if (_key is not null)
            {
                _key = StunCredentialKeys.LongTerm(Server.Credentials.Username, realm, Server.Credentials.Password);
            }
        }

        _nonce = nonce;
        return true;
    }

    private Exception ErrorFor(StunResponse response, string what)
    {
        int code = response.ErrorCode;
        string reason = response.ErrorReason;
        if (code is StunErrorCodes.Unauthorized or StunErrorCodes.WrongCredentials)
        {
            // Name the server, realm and user; never the password.
            return new TurnAuthenticationException(
                $"TURN server {Server} rejected the credentials of user '{Server.Credentials.Username}' in realm '{_realm}' ({code} {reason})",
                Server.ToString(),
                _realm);
        }

        return new TurnAllocationException($"TURN {what} on {Server} failed: {(code == 0 ? "error response without ERROR-CODE" : $"{code} {reason}")}", code);
    }

    [LoggerMessage(EventId = 1203, Level = LogLevel.Debug, Message = "TURN server {Server}: stale nonce on {Method}, retrying with the new one")]
    private static partial void LogStaleNonce(ILogger logger, TurnServerEndpoint server, StunMethod method);
}
