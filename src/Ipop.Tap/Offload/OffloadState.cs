using System.Runtime.InteropServices;
using Ipop.Tap.Interop;

namespace Ipop.Tap.Offload;

/// <summary>What a device negotiated with the kernel: whether frames carry a virtio_net_hdr, and which offloads are on.</summary>
/// <param name="VnetHeader">Every read and write carries a 10-byte virtio_net_hdr (IFF_VNET_HDR).</param>
/// <param name="Tso">TUN_F_CSUM|TSO4|TSO6 were accepted: reads may be TCP super-packets, writes may be coalesced.</param>
/// <param name="Uso">TUN_F_USO4|USO6 were accepted too: reads may be UDP super-packets.</param>
/// <param name="Description">For the creation log line: "TSO4 TSO6 USO on" or "off: &lt;reason&gt;".</param>
internal readonly record struct OffloadState(bool VnetHeader, bool Tso, bool Uso, string Description)
{
    /// <summary>Offloads not asked for: no virtio_net_hdr at all, frames as without offloads.</summary>
    public static OffloadState Disabled { get; } = new(false, false, false, "off: disabled by options (Offload = false)");

    /// <summary>
    /// Negotiates offloads on a fd attached with IFF_VNET_HDR: the header size, then TUNSETOFFLOAD with USO and,
    /// on EINVAL (kernels before 6.2 do not know USO), again without. Never throws: any refusal leaves the header
    /// on with every frame GSO_NONE, which is always correct.
    /// </summary>
    public static unsafe OffloadState Negotiate(int fd, OffloadFault faults)
    {
        int size = VirtioNetHeader.Size;
        int errno = faults.HasFlag(OffloadFault.VnetHeaderSizeFails) ? Errno.EINVAL
            : Libc.Ioctl(fd, Libc.TUNSETVNETHDRSZ, &size) == 0 ? 0 : Marshal.GetLastPInvokeError();
        if (errno != 0)
        {
            return new(true, false, false, $"off: TUNSETVNETHDRSZ failed: {Errno.Describe(errno)}");
        }

        const uint tso = Libc.TUN_F_CSUM | Libc.TUN_F_TSO4 | Libc.TUN_F_TSO6;
        const uint uso = Libc.TUN_F_USO4 | Libc.TUN_F_USO6;
        errno = SetOffload(fd, tso | uso, faults.HasFlag(OffloadFault.SetOffloadFails) || faults.HasFlag(OffloadFault.UsoMissing));
        if (errno == 0)
        {
            return new(true, true, true, "TSO4 TSO6 USO on");
        }

        int usoErrno = errno;
        errno = errno == Errno.EINVAL ? SetOffload(fd, tso, faults.HasFlag(OffloadFault.SetOffloadFails)) : errno;
        return errno == 0
            ? new(true, true, false, $"TSO4 TSO6 on (USO off: {Errno.Describe(usoErrno)})")
            : new(true, false, false, $"off: TUNSETOFFLOAD failed: {Errno.Describe(errno)}");
    }

    private static unsafe int SetOffload(int fd, uint flags, bool pretendEinval)
    {
        if (pretendEinval)
        {
            return Errno.EINVAL;
        }

        // TUNSETOFFLOAD takes the flags as the ioctl argument itself, not through a pointer (drivers/net/tun.c).
        return Libc.Ioctl(fd, Libc.TUNSETOFFLOAD, (void*)flags) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }
}
