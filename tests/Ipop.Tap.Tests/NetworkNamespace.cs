using System.Diagnostics;
using Ipop.Tap.Interop;

namespace Ipop.Tap.Tests;

/// <summary>
/// A throw-away network namespace (<c>tap_&lt;pid&gt;_&lt;n&gt;</c>) for one test collection. Code that must create
/// kernel objects inside it runs through <see cref="Run{T}"/> on a dedicated thread that first joins the
/// namespace with setns(2); the TUN fd and netlink socket created there keep working from any thread.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private static int s_counter;

    public NetworkNamespace()
    {
        IsRoot = Environment.IsPrivilegedProcess;
        Name = $"tap_{Environment.ProcessId}_{Interlocked.Increment(ref s_counter)}";
        if (!IsRoot)
        {
            return;
        }

        Run("ip", "netns", "add", Name).EnsureSuccess();
        Created = true;
        Run("ip", "-n", Name, "link", "set", "lo", "up").EnsureSuccess();
    }

    public string Name { get; }

    public bool IsRoot { get; }

    private bool Created { get; set; }

    /// <summary>Skips the calling test when not root (TUN/TAP and namespaces need CAP_NET_ADMIN).</summary>
    public void RequireRoot() => Assert.SkipUnless(IsRoot, "Needs root (CAP_NET_ADMIN) to create namespaces and TUN/TAP devices.");

    /// <summary>Runs <paramref name="action"/> on a fresh thread that lives in this namespace.</summary>
    public T Enter<T>(Func<T> action) => NetworkNamespaceScope.Run(Name, action, TimeSpan.FromSeconds(15));

    /// <summary>Runs a command inside the namespace (<c>ip netns exec</c>).</summary>
    public CommandResult Exec(params string[] command) => Run(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Starts a command inside the namespace without waiting.</summary>
    public static Task<CommandResult> RunAsync(params string[] command) => Task.Run(() => Run(command));

    public Task<CommandResult> ExecAsync(params string[] command) => RunAsync(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Runs a command (bounded by 15 s) and captures its output.</summary>
    public static CommandResult Run(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in command.Skip(1))
        {
            psi.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(psi)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(15)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{string.Join(' ', command)}' did not finish within 15 s.");
        }

        return new CommandResult(string.Join(' ', command), process.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose()
    {
        if (Created)
        {
            Created = false;
            _ = Run("ip", "netns", "delete", Name);
        }
    }
}

public sealed record CommandResult(string Command, int ExitCode, string Output, string Error)
{
    public CommandResult EnsureSuccess()
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"'{Command}' exited with {ExitCode}: {Error}{Output}");
        }

        return this;
    }
}

[CollectionDefinition(Name)]
public sealed class NamespaceCollection : ICollectionFixture<NetworkNamespace>
{
    public const string Name = "network namespace";
}
