using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.Samples.Hosting;

/// <summary>
/// The sd_notify(3) protocol: one datagram such as <c>READY=1</c> to the AF_UNIX socket named by
/// <c>NOTIFY_SOCKET</c>. Microsoft.Extensions.Hosting.Systemd notifies only when its parent process is named
/// <c>systemd</c> (or it is PID 1), so a test harness, a container runtime (podman <c>--sdnotify</c>) or any supervisor
/// that sets <c>NOTIFY_SOCKET</c> would otherwise never hear that the node is ready; this follows libsystemd instead
/// and trusts the variable alone. Shared by <c>ipop-tincan</c> (linked source) and the sample hosts.
/// </summary>
internal static class SdNotify
{
    /// <summary>The variable a service manager sets to the path (or <c>@</c> abstract name) of its notify socket.</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    /// <summary>
    /// Registers the notifier: <c>READY=1</c> once the host has started, <c>STOPPING=1</c> when it begins to stop.
    /// Nothing is registered without <c>NOTIFY_SOCKET</c>, and nothing when the systemd lifetime of
    /// <c>AddSystemd()</c> already notifies (a parent named systemd), so the manager never hears a state twice.
    /// </summary>
    public static IServiceCollection AddSdNotify(this IServiceCollection services)
    {
        string? socket = Environment.GetEnvironmentVariable(SocketVariable);
        if (!string.IsNullOrEmpty(socket) && !Microsoft.Extensions.Hosting.Systemd.SystemdHelpers.IsSystemdService())
        {
            services.AddHostedService(sp => new SdNotifyHostedService(socket, sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<ILogger<SdNotifyHostedService>>()));
        }

        return services;
    }

    /// <summary>
    /// Sends <paramref name="state"/> (e.g. <c>READY=1</c>) to <paramref name="notifySocket"/>: an absolute path, or
    /// <c>@name</c> for a name in the Linux abstract namespace. Throws <see cref="SocketException"/> when nothing
    /// listens there and <see cref="ArgumentException"/> for an address kind sd_notify has but we do not (vsock).
    /// </summary>
    public static void Send(string notifySocket, string state)
    {
        ArgumentException.ThrowIfNullOrEmpty(notifySocket);
        string path = notifySocket[0] switch
        {
            // .NET names an abstract socket with a leading NUL, as the kernel does.
            '@' => "\0" + notifySocket[1..],
            '/' => notifySocket,
            _ => throw new ArgumentException($"{SocketVariable}='{notifySocket}' is neither an absolute path nor an @abstract name.", nameof(notifySocket)),
        };
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(path));
    }
}
