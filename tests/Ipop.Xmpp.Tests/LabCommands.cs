using System.Diagnostics;

namespace Ipop.Xmpp.Tests;

/// <summary>Runs the <c>ip</c> commands that build these tests' namespaces and veth pairs.</summary>
internal static class LabCommands
{
    /// <summary>
    /// A network namespace <paramref name="ns"/> joined to the host by a veth pair: <paramref name="hostIf"/> with
    /// <paramref name="hostCidr"/> on the host, <paramref name="nsIf"/> with <paramref name="nsCidr"/> inside, both up,
    /// and the namespace's loopback up. <see cref="RemoveNamespace"/> takes it all away again.
    /// </summary>
    public static void CreateNamespace(string ns, string hostIf, string hostCidr, string nsIf, string nsCidr)
    {
        Run("ip", "netns", "add", ns);
        Run("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
        Run("ip", "link", "set", nsIf, "netns", ns);
        Run("ip", "addr", "add", hostCidr, "dev", hostIf);
        Run("ip", "link", "set", hostIf, "up");
        Run("ip", "netns", "exec", ns, "ip", "addr", "add", nsCidr, "dev", nsIf);
        Run("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up");
        Run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
    }

    /// <summary>Removes what <see cref="CreateNamespace"/> made, ignoring what is already gone (for finally blocks).</summary>
    public static void RemoveNamespace(string ns, string hostIf)
    {
        Run("ip", "link", "del", hostIf, true);
        Run("ip", "netns", "del", ns, true);
    }

    /// <summary>Runs <paramref name="file"/> with the string arguments; a trailing <c>true</c> ignores a failure (for cleanup).</summary>
    public static void Run(string file, params object[] args)
    {
        bool ignoreErrors = args.Length > 0 && args[^1] is bool b && b;
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (object arg in args.Where(a => a is string))
        {
            info.ArgumentList.Add((string)arg);
        }

        using Process process = Process.Start(info)!;
        string error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} hung");
        }

        if (process.ExitCode != 0 && !ignoreErrors)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', info.ArgumentList)} failed: {error}");
        }
    }
}
