using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Ipop.Tap.Interop;

/// <summary>
/// Runs code inside another network namespace: on a fresh thread that joins the namespace with setns(2)
/// and exits afterwards, so no pooled thread is left in the wrong namespace.
/// </summary>
/// <remarks>
/// For tests and lab tools that create a TUN/TAP in a namespace without running the whole process under
/// <c>ip netns exec</c>. setns(CLONE_NEWNET) changes only the calling thread; the fds created there (TUN fd,
/// netlink socket) stay bound to that namespace and work from any thread afterwards.
/// </remarks>
internal static class NetworkNamespaceScope
{
    /// <summary>Runs <paramref name="action"/> in the namespace and returns its result (or rethrows its exception).</summary>
    /// <param name="namespace">A name under <c>/run/netns</c> (as made by <c>ip netns add</c>) or an absolute path such as <c>/proc/123/ns/net</c>.</param>
    /// <param name="action">The code to run.</param>
    /// <param name="timeout">How long to wait for it.</param>
    public static T Run<T>(string @namespace, Func<T> action, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(@namespace);
        ArgumentNullException.ThrowIfNull(action);
        string path = @namespace.StartsWith('/') ? @namespace : "/run/netns/" + @namespace;
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using Microsoft.Win32.SafeHandles.SafeFileHandle ns = File.OpenHandle(path);
                if (Libc.SetNs((int)ns.DangerousGetHandle(), Libc.CLONE_NEWNET) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new VirtualInterfaceException($"Entering network namespace {path} failed: {Errno.Describe(errno)}.") { ErrorNumber = errno };
                }

                result = action();
            }
#pragma warning disable CA1031 // Rethrown on the calling thread.
            catch (Exception e)
#pragma warning restore CA1031
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = "netns " + @namespace,
        };
        thread.Start();
        if (!thread.Join(timeout))
        {
            throw new TimeoutException($"Code in network namespace {path} did not finish within {timeout.TotalSeconds:0.#} s.");
        }

        error?.Throw();
        return result;
    }
}
