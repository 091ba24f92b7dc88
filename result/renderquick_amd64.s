//go:build amd64 && !purego

#include "go_asm.h"
#include "textflag.h"

// quickLines is runQuickGo's loop (renderrun.go), line for line; each
// block says which of its lines it is. Registers through the loop:
//
//	SI   a: the line, in + at
//	DI   o: where the next line's output goes
//	R9   n = len(j.nt)
//	R10  (n-16)/2, where nt's middle sixteen bytes begin
//	R11  trips' data
//	R12  sf
//	R13  &trips[last]
//	R14  cur
//	R15  0x7676767676767676, digitRun's addend
//	X6, X7, X14   nt's sixteen bytes at 0, (n-16)/2 and n-16
//	X8-X13        the head's first 96 bytes (move96(o, hp))
//	AX BX CX DX R8, X0-X5: the line's own
//
// The loop's other constants are in the frame, read by the instructions
// that use them (an operand in memory is no instruction of its own). It
// calls nothing, so NOSPLIT with its small frame is safe, and it holds no
// pointer across a safe point (an assembly function is not preempted).
//
// The pieces are read whole, past their ends, as runQuickGo's moves
// read them: the head's 96 bytes (its capacity is 192), a triple's
// beginning 96 and its further property 32 (padded).
//
// nt and a triple's raw (24 to 48 bytes) are compared as three sixteen-
// byte pieces, at 0, (len-16)/2 and len-16: they overlap and cover it,
// never reading past it (diff24's two halves, in SSE2's compares).
//
// The frame: lim-8, the last a for which len(csv)-at >= n+48+20;
// oend-16, the last o for which room >= 224; tlen-24, len(trips);
// hn-32, len(j.head); c30-40 and c80-48, digitRun's xor and mask.

// digitRun(load64(p, 0)) with p = base+idx+off: the word into DX (xored
// with '0's), the count into R8.
#define DIGITRUN(off, base, idx) \
	MOVQ off(base)(idx*1), DX; \
	XORQ c30-40(SP), DX;       \
	LEAQ (DX)(R15*1), R8;      \
	ORQ  DX, R8;               \
	ANDQ c80-48(SP), R8;       \
	BTSQ $63, R8;              \
	BSFQ R8, R8;               \
	SHRQ $3, R8

// func quickLines(j *Renderer, b, csv []byte, at int) (n, end, lastAt int)
TEXT ·quickLines(SB), NOSPLIT, $48-88
	MOVQ j+0(FP), AX

	// sf, cur := j.sf, j.cur (obs is counted by cur at the end); o and
	// a, b's end and in + at: what done reports if no line renders
	MOVL Renderer_sf(AX), R12
	MOVQ Renderer_cur(AX), R14
	MOVQ b_base+8(FP), DI
	ADDQ b_len+16(FP), DI
	MOVQ csv_base+32(FP), SI
	ADDQ at+56(FP), SI

	// trips, last: &trips[j.last], checked as trips[last] is
	MOVQ   Renderer_names+renderNames_trips(AX), R11
	MOVQ   Renderer_names+renderNames_trips+8(AX), DX
	MOVQ   DX, tlen-24(SP)
	MOVL   Renderer_last(AX), BX
	IMUL3Q $tripleOut__size, BX, R13
	ADDQ   R11, R13
	CMPQ   BX, DX
	JCC    done

	// room := cap(b)-len(b); for room >= 224, o <= oend
	MOVQ b_cap+24(FP), CX
	SUBQ b_len+16(FP), CX
	SUBQ $224, CX
	JLT  done
	LEAQ (DI)(CX*1), DX
	MOVQ DX, oend-16(SP)

	// n := len(j.nt); for len(csv)-at >= n+48+20, a <= lim
	MOVQ Renderer_nt+8(AX), R9
	MOVQ csv_len+40(FP), BX
	SUBQ R9, BX
	SUBQ $(48+20), BX
	CMPQ at+56(FP), BX
	JGT  done
	ADDQ csv_base+32(FP), BX
	MOVQ BX, lim-8(SP)

	// ntp's pieces
	MOVQ   Renderer_nt(AX), BX
	LEAQ   -16(R9), R10
	SHRQ   $1, R10
	MOVOU  (BX), X6
	MOVOU  (BX)(R10*1), X7
	MOVOU  -16(BX)(R9*1), X14

	// hp, hn: the head's 96 bytes (its capacity is 192: makeHead)
	MOVQ  Renderer_head(AX), BX
	MOVQ  Renderer_head+8(AX), DX
	MOVQ  DX, hn-32(SP)
	MOVOU 0(BX), X8
	MOVOU 16(BX), X9
	MOVOU 32(BX), X10
	MOVOU 48(BX), X11
	MOVOU 64(BX), X12
	MOVOU 80(BX), X13

	MOVQ $0x3030303030303030, DX
	MOVQ DX, c30-40(SP)
	MOVQ $0x8080808080808080, DX
	MOVQ DX, c80-48(SP)
	MOVQ $0x7676767676767676, R15

loop:
	// if diff24(a, ntp)|diff24(a+n-24, ntp+n-24) != 0 { break }
	MOVOU    (SI), X0
	MOVOU    (SI)(R10*1), X1
	MOVOU    -16(SI)(R9*1), X2
	PCMPEQB  X6, X0
	PCMPEQB  X7, X1
	PCMPEQB  X14, X2
	PAND     X1, X0
	PAND     X2, X0
	PMOVMSKB X0, DX
	CMPL     DX, $0xffff
	JNE      done

	// ti := trips[last].next; t := &trips[ti] (CX)
	MOVL   tripleOut_next(R13), BX
	CMPQ   BX, tlen-24(SP)
	JCC    done
	IMUL3Q $tripleOut__size, BX, CX
	ADDQ   R11, CX

	// m := len(t.raw); a += n; p := t.raw's data
	// if !t.quick || diff24(a, p)|diff24(a+m-24, p+m-24) != 0 { break }
	CMPB     tripleOut_quick(CX), $0
	JEQ      done
	MOVQ     tripleOut_raw(CX), AX
	MOVQ     tripleOut_raw+8(CX), DX
	LEAQ     (SI)(R9*1), BX
	LEAQ     -16(DX), R8
	SHRQ     $1, R8
	MOVOU    (BX), X0
	MOVOU    (AX), X3
	MOVOU    (BX)(R8*1), X1
	MOVOU    (AX)(R8*1), X4
	MOVOU    -16(BX)(DX*1), X2
	MOVOU    -16(AX)(DX*1), X5
	PCMPEQB  X3, X0
	PCMPEQB  X4, X1
	PCMPEQB  X5, X2
	PAND     X1, X0
	PAND     X2, X0
	PMOVMSKB X0, R8
	CMPL     R8, $0xffff
	JNE      done

	// p = a + m: the value (AX)
	// neg := b2i(*p == '-') (BX)
	// x := load64(p, neg); d := digitRun(x) (DX, R8)
	LEAQ  (BX)(DX*1), AX
	XORL  BX, BX
	CMPB  (AX), $0x2d // '-'
	SETEQ BL
	DIGITRUN(0, AX, BX)

	// b2i(uint(d-1) >= 7) | b2i(d > 1)&b2i(byte(x) == '0'): d is at
	// most 7, so the first is d == 0, the first byte no digit; the
	// second a '0' and a digit after it. With the first byte (less '0')
	// high and the second low, both are outside [10, 0x0a00).
	MOVWLZX DX, DX
	ROLW    $8, DX
	SUBL    $10, DX
	CMPL    DX, $(0x0a00-10)
	JCC     done

	// i := neg + d (BX)
	// dot := b2i(*(p+i) == '.')
	// k := i + (1+digitRun(load64(p, i+1)))&-dot (BX)
	// dot&b2i(k-i < 2): a dot without a digit after it
	// *(p+k) != '\n'
	ADDQ    R8, BX
	DIGITRUN(1, AX, BX)
	INCQ    R8
	XORL    DX, DX
	CMPB    (AX)(BX*1), $0x2e // '.'
	CMOVQNE DX, R8
	CMPQ    R8, $1
	JEQ     done
	ADDQ    R8, BX
	CMPB    (AX)(BX*1), $0x0a // '\n'
	JNE     done

	// if t.sf == sf && t.stamp != cur
	CMPL tripleOut_sf(CX), R12
	JNE  begin
	CMPQ tripleOut_stamp(CX), R14
	JEQ  begin

	// move32(o, t.more); o += len(t.more)
	MOVQ  tripleOut_more(CX), DX
	MOVOU (DX), X0
	MOVOU X0, (DI)
	MOVOU 16(DX), X1
	MOVOU X1, 16(DI)
	ADDQ  tripleOut_more+8(CX), DI
	JMP   value

begin:
	// move96(o, hp); o += hn
	MOVOU X8, 0(DI)
	MOVOU X9, 16(DI)
	MOVOU X10, 32(DI)
	MOVOU X11, 48(DI)
	MOVOU X12, 64(DI)
	MOVOU X13, 80(DI)
	ADDQ  hn-32(SP), DI

	// move96(o, t.begin); o += len(t.begin)
	MOVQ  tripleOut_begin(CX), DX
	MOVOU 0(DX), X0
	MOVOU 16(DX), X1
	MOVOU 32(DX), X2
	MOVOU 48(DX), X3
	MOVOU 64(DX), X4
	MOVOU 80(DX), X5
	MOVOU X0, 0(DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	MOVOU X4, 64(DI)
	MOVOU X5, 80(DI)
	ADDQ  tripleOut_begin+8(CX), DI

	// sf = t.sf; cur++ (and obs++)
	MOVL tripleOut_sf(CX), R12
	INCQ R14

value:
	// move16(o, p); o += k
	MOVOU (AX), X0
	MOVOU X0, (DI)
	ADDQ  BX, DI

	// t.stamp = cur; last = ti (trips[last].next = ti is a no-op: ti
	// is trips[last].next)
	MOVQ R14, tripleOut_stamp(CX)
	MOVQ CX, R13

	// at += n + m + k + 1: the next line, after the value's '\n'
	LEAQ 1(AX)(BX*1), SI

	// for len(csv)-at >= n+48+20 && room >= 224
	CMPQ SI, lim-8(SP)
	JHI  done
	CMPQ DI, oend-16(SP)
	JLS  loop

done:
	// j.sf, j.cur, j.obs = sf, cur, obs; b[:cap(b)-room], at
	MOVQ j+0(FP), AX
	MOVL R12, Renderer_sf(AX)
	MOVQ Renderer_obs(AX), DX
	SUBQ Renderer_cur(AX), DX
	ADDQ R14, DX
	MOVQ DX, Renderer_obs(AX)
	MOVQ R14, Renderer_cur(AX)
	SUBQ b_base+8(FP), DI
	MOVQ DI, n+64(FP)
	SUBQ csv_base+32(FP), SI
	MOVQ SI, end+72(FP)
	SUBQ R11, R13
	MOVQ R13, lastAt+80(FP)
	RET
