using System.Net;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.Tests.Turn;

/// <summary>
/// An in-memory TURN server behind the <see cref="IDatagramSender"/> seam: answers synchronously through
/// the demultiplexer, with long-term credentials and knobs for stale nonces and refusals. Good for the
/// timer logic with a fake clock, where a real coturn would need real minutes.
/// </summary>
internal sealed class FakeTurnServer : IDatagramSender
{
    public static readonly IPEndPoint Address = new(IPAddress.Parse("127.0.0.10"), 3478);
    public static readonly IPEndPoint Relayed = new(IPAddress.Parse("127.0.0.10"), 50000);
    public static readonly IPEndPoint ClientMapped = new(IPAddress.Parse("127.0.0.1"), 40000);

    private readonly Lock _lock = new();
    private int _nonceCounter;

    public FakeTurnServer(string user = "u", string password = "p", string realm = "fake.test")
    {
        User = user;
        Realm = realm;
        Key = StunCredentialKeys.LongTerm(user, realm, password);
        Nonce = "nonce-0";
    }

    public string User { get; }

    public string Realm { get; }

    public byte[] Key { get; }

    public string Nonce { get; private set; }

    public uint GrantedLifetime { get; set; } = 600;

    /// <summary>Answer the next authenticated request of this method with 438 and a fresh nonce.</summary>
    public StunMethod? StaleNonceOnce { get; set; }

    /// <summary>Answer Refresh requests (with LIFETIME &gt; 0) with this error code.</summary>
    public int? RefreshError { get; set; }

    /// <summary>Stop answering at all (a dead server).</summary>
    public bool Silent { get; set; }

    /// <summary>Answers like a forger who does not know the password: success and error answers carry no MESSAGE-INTEGRITY.</summary>
    public bool Unsigned { get; set; }

    public TurnDemultiplexer? Demultiplexer { get; set; }

    /// <summary>
    /// An attacker who sees our requests but does not know the password: for each authenticated request (its method
    /// and transaction id) it may return a datagram, delivered to the client before the server's own answer.
    /// </summary>
    public Func<StunMethod, StunTransactionId, byte[]?>? Forger { get; set; }

    public List<(StunMethod Method, bool Authenticated, string? Nonce, uint? Lifetime)> Requests { get; } = [];

    public List<byte[]> ChannelDataSent { get; } = [];

    public List<byte[]> RawRequests { get; } = [];

    public int CountOf(StunMethod method)
    {
        lock (_lock)
        {
            return Requests.Count(r => r.Method == method && r.Authenticated);
        }
    }

    public SocketAddress? ToSocketAddress(IPEndPoint to) => to.Serialize();

    public bool Send(ReadOnlySpan<byte> datagram, SocketAddress to) => Send(datagram, (IPEndPoint)Address.Create(to));

    public bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        if (DatagramClassifier.Classify(datagram) == DatagramKind.ChannelData)
        {
            lock (_lock)
            {
                ChannelDataSent.Add(datagram.ToArray());
            }

            return true;
        }

        if (StunMessage.TryParse(datagram, out StunMessage request) != StunParseError.None || request.Class != StunMessageClass.Request)
        {
            return true;
        }

        bool authenticated = request.HasMessageIntegrity;
        request.TryGetString(StunAttributeType.Nonce, out string? nonce);
        uint? lifetime = request.TryGetUInt32(StunAttributeType.Lifetime, out uint l) ? l : null;
        lock (_lock)
        {
            Requests.Add((request.Method, authenticated, nonce, lifetime));
            RawRequests.Add(datagram.ToArray());
        }

        if (authenticated && Forger?.Invoke(request.Method, request.TransactionId) is { } forged)
        {
            Demultiplexer?.OnDatagram(forged, Address);
        }

        if (Silent)
        {
            return true;
        }

        byte[] buffer = new byte[512];
        StunMethod method = request.Method;
        var id = request.TransactionId;
        int length;
        if (!authenticated)
        {
            length = Error(buffer, method, id, StunErrorCodes.Unauthorized, "Unauthorized", withChallenge: true);
        }
        else if (!request.TryGetString(StunAttributeType.Username, out string? user) || user != User || !request.VerifyMessageIntegrity(Key))
        {
            length = Error(buffer, method, id, StunErrorCodes.Unauthorized, "Unauthorized", withChallenge: true);
        }
        else if (nonce != Nonce || StaleNonceOnce == method)
        {
            StaleNonceOnce = null;
            Nonce = $"nonce-{Interlocked.Increment(ref _nonceCounter)}";
            length = Error(buffer, method, id, StunErrorCodes.StaleNonce, "Stale Nonce", withChallenge: true);
        }
        else if (method == StunMethod.Refresh && lifetime > 0 && RefreshError is int code)
        {
            length = Error(buffer, method, id, code, "Refused", sign: !Unsigned);
        }
        else
        {
            var writer = new StunMessageWriter(buffer, method, StunMessageClass.SuccessResponse, id);
            if (method == StunMethod.Allocate)
            {
                writer.AppendXorAddress(StunAttributeType.XorRelayedAddress, Relayed);
                writer.AppendXorAddress(StunAttributeType.XorMappedAddress, ClientMapped);
                writer.AppendUInt32(StunAttributeType.Lifetime, GrantedLifetime);
            }
            else if (method == StunMethod.Refresh)
            {
                writer.AppendUInt32(StunAttributeType.Lifetime, lifetime == 0 ? 0 : GrantedLifetime);
            }

            if (!Unsigned)
            {
                writer.AppendMessageIntegrity(Key);
            }

            writer.AppendFingerprint();
            length = writer.Length;
        }

        Demultiplexer?.OnDatagram(buffer.AsSpan(0, length), Address);
        return true;
    }

    // A real server (coturn) signs its answers to an authenticated request, errors included, except 401 and 438,
    // which say it could not use our credentials or nonce.
    private int Error(byte[] buffer, StunMethod method, StunTransactionId id, int code, string reason, bool withChallenge = false, bool sign = false)
    {
        var writer = new StunMessageWriter(buffer, method, StunMessageClass.ErrorResponse, id);
        writer.AppendErrorCode(code, reason);
        if (withChallenge)
        {
            writer.AppendString(StunAttributeType.Realm, Realm);
            writer.AppendString(StunAttributeType.Nonce, Nonce);
        }

        if (sign)
        {
            writer.AppendMessageIntegrity(Key);
        }

        writer.AppendFingerprint();
        return writer.Length;
    }
}
