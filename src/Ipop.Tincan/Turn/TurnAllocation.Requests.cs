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
            StunResponseValidator? validator = key is null ? null : m => IsAuthentic(m, key, method);
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
    /// answer without a valid one, success or error, is discarded as if never received, counted, and the transaction
    /// keeps waiting for the genuine answer: otherwise an attacker who knows no password could hand us a relayed
    /// address, or kill the allocation with a forged 437 to a Refresh. The table logs the discard (rate-limited).
    /// </summary>
    private bool IsAuthentic(StunMessage response, byte[] key, StunMethod method)
    {
        bool authentic = response.HasMessageIntegrity
            ? response.VerifyMessageIntegrity(key)
            : response.Class == StunMessageClass.ErrorResponse
                && response.TryGetErrorCode(out int code, out _)
                && code is StunErrorCodes.Unauthorized or StunErrorCodes.StaleNonce;
        if (!authentic)
        {
            long total = Interlocked.Increment(ref _unauthenticated);
            if (_dropLog.ShouldLog())
            {
                LogUnauthenticated(_logger, Server, method, response.Class, total);
            }
        }

        return authentic;
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

        // Once the allocation exists, its realm is settled: a 401 or 438 cannot be signed, so one naming another realm
        // may be forged, and taking it would change our key and lock us out of our own allocation.
        if (!_allocated && view.TryGetString(StunAttributeType.Realm, out string? realm, maxBytes: 763) && !string.IsNullOrEmpty(realm) && !string.Equals(realm, _realm, StringComparison.Ordinal))
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

    [LoggerMessage(EventId = 1209, Level = LogLevel.Warning, Message = "TURN server {Server}: discarded a {Method} {Class} without a valid MESSAGE-INTEGRITY (forged, or not from the server we authenticated with); {Total} so far")]
    private static partial void LogUnauthenticated(ILogger logger, TurnServerEndpoint server, StunMethod method, StunMessageClass @class, long total);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Debug, Message = "TURN server {Server}: stale nonce on {Method}, retrying with the new one")]
    private static partial void LogStaleNonce(ILogger logger, TurnServerEndpoint server, StunMethod method);
}
