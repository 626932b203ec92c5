using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Stun;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Turn;

/// <summary>
/// Gets a relayed address: tries the configured TURN servers in order and returns the first allocation
/// that succeeds; a server that is down, refuses or answers garbage is skipped with a log line. If every
/// server refused our credentials the failure is a <see cref="TurnAuthenticationException"/> so the link
/// manager can report <c>LinkFailureReason.TurnAuthenticationFailed</c>.
/// </summary>
internal sealed partial class TurnClient(StunTransactionTable transactions, TurnDemultiplexer? demultiplexer = null, TurnTimings? timings = null, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly TurnTimings _timings = timings ?? TurnTimings.Default;

    /// <summary>Address family of the shared socket, used to pick DNS results.</summary>
    public AddressFamily AddressFamily { get; init; } = AddressFamily.InterNetwork;

    public async Task<TurnAllocation> AllocateAsync(IReadOnlyList<TurnServerEndpoint> servers, CancellationToken cancellationToken = default)
    {
        if (servers.Count == 0)
        {
            throw new ArgumentException("No TURN servers configured.", nameof(servers));
        }

        var failures = new List<Exception>();
        foreach (TurnServerEndpoint server in servers)
        {
            try
            {
                return await AllocateAsync(server, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TurnAuthenticationException or TurnAllocationException or TimeoutException or SocketException)
            {
                failures.Add(ex);
                LogSkipped(_logger, server, ex.Message);
            }
        }

        if (failures.TrueForAll(f => f is TurnAuthenticationException))
        {
            throw new TurnAuthenticationException(
                $"Every TURN server refused our credentials: {string.Join("; ", failures.Select(f => f.Message))}",
                new AggregateException(failures));
        }

        throw new TurnAllocationException(
            $"No TURN server gave us an allocation: {string.Join("; ", failures.Select(f => f.Message))}",
            new AggregateException(failures));
    }

    /// <summary>Allocates on one server; see <see cref="TurnAllocation"/> for what can be thrown.</summary>
    public async Task<TurnAllocation> AllocateAsync(TurnServerEndpoint server, CancellationToken cancellationToken = default)
    {
        IPEndPoint address = await server.Endpoint.ResolveAsync(AddressFamily, cancellationToken).ConfigureAwait(false);
        TurnAllocation allocation;
        try
        {
            allocation = await TurnAllocation.CreateAsync(server, address, transactions, _timings, _logger, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"TURN server {server} did not answer", ex);
        }

        demultiplexer?.Register(allocation);
        return allocation;
    }

    [LoggerMessage(EventId = 1220, Level = LogLevel.Warning, Message = "TURN server {Server} unusable, trying the next one: {Reason}")]
    private static partial void LogSkipped(ILogger logger, TurnServerEndpoint server, string reason);
}
