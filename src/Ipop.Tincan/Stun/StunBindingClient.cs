using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Stun;

/// <summary>
/// Learns server-reflexive addresses with Binding requests (RFC 8489 section 3): one per configured
/// server, in parallel; servers that time out, answer with an error or cannot be resolved are skipped
/// with a log line, and the caller gets whatever mappings did come back.
/// </summary>
internal sealed partial class StunBindingClient(StunTransactionTable transactions, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Address family of the socket the table sends on, used to pick DNS results.</summary>
    public AddressFamily AddressFamily { get; init; } = AddressFamily.InterNetwork;

    /// <summary>Writes a Binding request (with FINGERPRINT, so multiplexed receivers can tell it is STUN).</summary>
    public static int WriteRequest(Span<byte> buffer, StunTransactionId id)
    {
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, id);
        writer.AppendFingerprint();
        return writer.Length;
    }

    /// <summary>One Binding transaction; throws <see cref="TimeoutException"/> or <see cref="StunProtocolException"/>.</summary>
    public async Task<IPEndPoint> QueryAsync(IPEndPoint server, StunRetransmissionPolicy? policy = null, CancellationToken cancellationToken = default)
    {
        Span<byte> request = stackalloc byte[32];
        int length = WriteRequest(request, StunTransactionId.NewRandom());
        StunResponse response = await transactions.SendRequestAsync(request[..length], server, policy, validator: null, cancellationToken).ConfigureAwait(false);
        return ReadMapped(response, server);
    }

    private static IPEndPoint ReadMapped(StunResponse response, IPEndPoint server)
    {
        StunMessage view = response.View;
        if (view.Class == StunMessageClass.ErrorResponse)
        {
            throw new StunProtocolException($"STUN server {server} answered Binding with error {response.ErrorCode} {response.ErrorReason}", response.ErrorCode);
        }

        // XOR-MAPPED-ADDRESS is the RFC 5389+ attribute; MAPPED-ADDRESS is what RFC 3489 servers send.
        if (view.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped) || view.TryGetMappedAddress(out mapped))
        {
            return mapped!;
        }

        throw new StunProtocolException($"STUN server {server} answered Binding without a usable (XOR-)MAPPED-ADDRESS");
    }

    /// <summary>Queries every server in parallel; returns the successful results in configuration order.</summary>
    public async Task<IReadOnlyList<StunBindingResult>> GetServerReflexiveAsync(
        IReadOnlyList<StunServerEndpoint> servers,
        StunRetransmissionPolicy? policy = null,
        CancellationToken cancellationToken = default)
    {
        var tasks = new Task<StunBindingResult?>[servers.Count];
        for (int i = 0; i < servers.Count; i++)
        {
            tasks[i] = QueryOneAsync(servers[i], policy, cancellationToken);
        }

        StunBindingResult?[] results = await Task.WhenAll(tasks).ConfigureAwait(false);
        var list = new List<StunBindingResult>(results.Length);
        foreach (StunBindingResult? result in results)
        {
            if (result is not null)
            {
                list.Add(result);
            }
        }

        if (list.Count == 0 && servers.Count > 0)
        {
            LogNoMapping(_logger, servers.Count);
        }

        return list;
    }

    private async Task<StunBindingResult?> QueryOneAsync(StunServerEndpoint server, StunRetransmissionPolicy? policy, CancellationToken cancellationToken)
    {
        IPEndPoint address;
        try
        {
            address = await server.ResolveAsync(AddressFamily, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            LogResolveFailed(_logger, server, ex.Message);
            return null;
        }

        try
        {
            IPEndPoint mapped = await QueryAsync(address, policy, cancellationToken).ConfigureAwait(false);
            LogMapped(_logger, server, mapped);
            return new StunBindingResult(server, address, mapped);
        }
        catch (TimeoutException)
        {
            LogUnreachable(_logger, server);
        }
        catch (StunProtocolException ex)
        {
            LogFailed(_logger, server, ex.Message);
        }

        return null;
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "STUN server {Server} sees us as {Mapped}")]
    private static partial void LogMapped(ILogger logger, StunServerEndpoint server, IPEndPoint mapped);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "STUN server {Server} did not answer; skipping it")]
    private static partial void LogUnreachable(ILogger logger, StunServerEndpoint server);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "STUN server {Server} failed: {Reason}; skipping it")]
    private static partial void LogFailed(ILogger logger, StunServerEndpoint server, string reason);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "STUN server {Server} could not be resolved: {Reason}; skipping it")]
    private static partial void LogResolveFailed(ILogger logger, StunServerEndpoint server, string reason);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Warning, Message = "None of the {Count} STUN servers gave us a server-reflexive address")]
    private static partial void LogNoMapping(ILogger logger, int count);
}
