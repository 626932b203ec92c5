using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Ipop.Samples.Hosting;

/// <summary>
/// The sd_notify(3) protocol: one datagram such as <c>READY=1</c> to the AF_UNIX socket named by
/// <c>NOTIFY_SOCKET</c>. Used instead of Microsoft.Extensions.Hosting.Systemd's lifetime for two reasons the lab
/// tests showed: it says <c>READY=1</c> when the generic host has started, before ipop-tincan's interface exists;
/// and it says nothing unless its parent process is named systemd, so a test, a container runtime (podman
/// <c>--sdnotify</c>) or another supervisor that sets <c>NOTIFY_SOCKET</c> never hears it. This trusts the variable
/// alone, as libsystemd does. Shared by <c>ipop-tincan</c> (linked source) and the sample hosts.
/// </summary>
internal static class SdNotify
{
    /// <summary>The variable a service manager sets to the path (or <c>@</c> abstract name) of its notify socket.</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    /// <summary>
    /// Registers <see cref="ServiceReadiness"/> and, when <c>NOTIFY_SOCKET</c> is set, the notifier: <c>READY=1</c>
    /// when the host is ready, <c>STOPPING=1</c> when it begins to stop. With <paramref name="hostMarksReady"/> the
    /// host calls <see cref="ServiceReadiness.MarkReady"/> itself; otherwise the generic host's start marks it.
    /// Under systemd the console log also takes the journal's format (<c>&lt;6&gt;</c> priority prefixes, no timestamp).
    /// </summary>
    public static IServiceCollection AddSdNotify(this IServiceCollection services, bool hostMarksReady = false)
    {
        services.AddSingleton<ServiceReadiness>();
        if (SystemdHelpers.IsSystemdService())
        {
            services.Configure<ConsoleLoggerOptions>(o => o.FormatterName = ConsoleFormatterNames.Systemd);
        }

        string? socket = Environment.GetEnvironmentVariable(SocketVariable);
        if (!string.IsNullOrEmpty(socket))
        {
            services.AddHostedService(sp => new SdNotifyHostedService(
                socket,
                hostMarksReady,
                sp.GetRequiredService<ServiceReadiness>(),
                sp.GetRequiredService<IHostApplicationLifetime>(),
                sp.GetRequiredService<ILogger<SdNotifyHostedService>>()));
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
