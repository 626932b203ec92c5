using System.Runtime.InteropServices;

namespace Ipop.Tap.Tests;

/// <summary>Drops a capability from the calling thread only (capabilities are per thread in Linux), to test the EPERM path as root.</summary>
internal static unsafe partial class ThreadCapabilities
{
    public const int CAP_NET_ADMIN = 12;
    private const uint LinuxCapabilityVersion3 = 0x20080522;

    public static void DropEffective(int capability)
    {
        // struct __user_cap_header_struct { u32 version; int pid; } and two __user_cap_data_struct { u32 effective, permitted, inheritable; }.
        uint* header = stackalloc uint[2];
        uint* data = stackalloc uint[6];
        header[0] = LinuxCapabilityVersion3;
        header[1] = 0;
        if (CapGet(header, data) != 0)
        {
            throw new InvalidOperationException($"capget failed: errno {Marshal.GetLastPInvokeError()}");
        }

        data[(capability / 32) * 3] &= ~(1u << (capability % 32));
        if (CapSet(header, data) != 0)
        {
            throw new InvalidOperationException($"capset failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "capget", SetLastError = true)]
    private static partial int CapGet(uint* header, uint* data);

    [LibraryImport("libc", EntryPoint = "capset", SetLastError = true)]
    private static partial int CapSet(uint* header, uint* data);
}
