namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// How packets from one friend are rewritten on arrival (SocialVPN's rule: the receiving node translates).
/// The friend sends from its own address in its view (<see cref="PeerSelf"/>) to the address it gave us
/// (<see cref="PeerViewOfMe"/>); we rewrite them to the address we gave the friend (<see cref="MyViewOfPeer"/>)
/// and our own address (<see cref="MySelf"/>). Addresses are host-order IPv4 values.
/// </summary>
internal readonly record struct Ipv4Translation(uint PeerSelf, uint PeerViewOfMe, uint MyViewOfPeer, uint MySelf);
