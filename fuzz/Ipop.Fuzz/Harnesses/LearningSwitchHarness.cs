using System.Net.NetworkInformation;
using Ipop.Tincan;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// The TAP learning switch's Ethernet handling: the input is split into frames (2-byte length prefix, then the
/// frame); each goes inbound from one of three links or outbound from the local NIC, as the first byte of its
/// length says. Rejection: a Drop decision or a false return.
/// </summary>
internal sealed class LearningSwitchHarness : IHarness
{
    private readonly FakeLink[] _links = [new("a"), new("b"), new("c")];
    private readonly byte[] _frame = new byte[65536];

    public string Name => "learning-switch";

    public string Description => "Learning switch Ethernet handling (Ipop.Tincan/Routing/LearningSwitch)";

    public void Run(ReadOnlySpan<byte> input)
    {
        // A new switch per input: a learned table must not make one input depend on the inputs before it.
        var learning = new LearningSwitch(TimeSpan.FromMinutes(5), TimeProvider.System, maxStations: 8);
        learning.SetLocal(PhysicalAddress.Parse("02-00-00-00-00-01"));
        _ = learning.Bind(_links[0], PhysicalAddress.Parse("02-00-00-00-00-0A"), bridge: false);
        _ = learning.Bind(_links[2], PhysicalAddress.Parse("02-00-00-00-00-0C"), bridge: true);
        while (input.Length >= 2)
        {
            int selector = input[0];
            int length = Math.Min(input[1] | ((selector & 0x07) << 8), input.Length - 2);
            Span<byte> frame = _frame.AsSpan(0, length);
            input.Slice(2, length).CopyTo(frame);
            input = input[(2 + length)..];
            int direction = (selector >> 3) & 0x03;
            if (direction == 3)
            {
                _ = learning.RouteOutbound(frame);
            }
            else
            {
                _ = learning.AcceptInbound(_links[direction], frame);
            }

            if ((selector & 0x20) != 0)
            {
                _ = learning.Purge();
            }

            if ((selector & 0xC0) == 0xC0)
            {
                learning.Forget(_links[direction % 3]);
            }
        }
    }

    private sealed class FakeLink(string name) : ITincanLink
    {
        public PeerId Peer { get; } = new(name);

        public NodePublicKey PeerKey { get; } = new(new byte[32]);

        public LinkStatus Status => LinkStatus.Connecting;

        public LinkStats GetStats() => new();

        public bool TrySend(ReadOnlySpan<byte> packet) => true;

        public bool TrySendControl(ReadOnlySpan<byte> message) => true;
    }
}
