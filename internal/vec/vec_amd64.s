//go:build !noasm

#include "textflag.h"

// HSUM8 adds the eight lanes of Y register y into the low lane of its X
// half x, using xt as scratch.
#define HSUM8(y, x, xt) \
	VEXTRACTF128 $1, y, xt \
	VADDPS       xt, x, x  \
	VHADDPS      x, x, x   \
	VHADDPS      x, x, x

// func axpyAVX2(y *float32, a float32, x *float32, n int)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ         y+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ         x+16(FP), SI
	MOVQ         n+24(FP), CX

axpy32:
	CMPQ        CX, $32
	JLT         axpy8
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VMOVUPS     64(DI), Y3
	VMOVUPS     96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	VMOVUPS     Y3, 64(DI)
	VMOVUPS     Y4, 96(DI)
	ADDQ        $128, DI
	ADDQ        $128, SI
	SUBQ        $32, CX
	JMP         axpy32

axpy8:
	CMPQ        CX, $8
	JLT         axpyDone
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         axpy8

axpyDone:
	VZEROUPPER
	RET

// func dotAVX2(x, y *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ        CX, $32
	JLT         dot8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dot32

dot8:
	CMPQ        CX, $8
	JLT         dotSum
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot8

dotSum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	HSUM8(Y0, X0, X1)
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func clampAVX2(y, x *float32, n int, lo, hi float32)
//
// VMAXPS and VMINPS return their second source when either is NaN: with x
// (then max(x, lo)) as the second source, a NaN input stays NaN.
TEXT ·clampAVX2(SB), NOSPLIT, $0-32
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS lo+24(FP), Y0
	VBROADCASTSS hi+28(FP), Y1

clamp8:
	CMPQ    CX, $8
	JLT     clampDone
	VMOVUPS (SI), Y2
	VMAXPS  Y2, Y0, Y2
	VMINPS  Y2, Y1, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     clamp8

clampDone:
	VZEROUPPER
	RET

// func reluGradAVX2(gx, x, grad *float32, n int)
//
// gx += grad & (0 < x): the ordered less-than compare is all ones where x
// is positive and zero for ±0, negatives and NaN.
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ   gx+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   grad+16(FP), DX
	MOVQ   n+24(FP), CX
	VXORPS Y0, Y0, Y0

relu8:
	CMPQ    CX, $8
	JLT     reluDone
	VCMPPS  $0x01, (SI), Y0, Y1
	VANDPS  (DX), Y1, Y1
	VADDPS  (DI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     relu8

reluDone:
	VZEROUPPER
	RET

// func addAVX2(y, a, b *float32, n int)
TEXT ·addAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX

add8:
	CMPQ    CX, $8
	JLT     addDone
	VMOVUPS (SI), Y1
	VADDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     add8

addDone:
	VZEROUPPER
	RET

// func scaleShiftAVX2(y *float32, a float32, x *float32, b float32, n int)
TEXT ·scaleShiftAVX2(SB), NOSPLIT, $0-40
	MOVQ         y+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ         x+16(FP), SI
	VBROADCASTSS b+24(FP), Y1
	MOVQ         n+32(FP), CX

ss8:
	CMPQ        CX, $8
	JLT         ssDone
	VMOVUPS     Y1, Y2
	VFMADD231PS (SI), Y0, Y2
	VMOVUPS     Y2, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         ss8

ssDone:
	VZEROUPPER
	RET

// func sumSquaresAVX2(x *float32, n int) (sum, squares float32)
TEXT ·sumSquaresAVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

sq16:
	CMPQ        CX, $16
	JLT         sq8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VADDPS      Y4, Y0, Y0
	VADDPS      Y5, Y1, Y1
	VFMADD231PS Y4, Y4, Y2
	VFMADD231PS Y5, Y5, Y3
	ADDQ        $64, SI
	SUBQ        $16, CX
	JMP         sq16

sq8:
	CMPQ        CX, $8
	JLT         sqSum
	VMOVUPS     (SI), Y4
	VADDPS      Y4, Y0, Y0
	VFMADD231PS Y4, Y4, Y2
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         sq8

sqSum:
	VADDPS       Y1, Y0, Y0
	HSUM8(Y0, X0, X1)
	MOVSS        X0, sum+16(FP)
	VADDPS       Y3, Y2, Y2
	HSUM8(Y2, X2, X3)
	MOVSS        X2, squares+20(FP)
	VZEROUPPER
	RET

// func sumDotCenteredAVX2(d, x *float32, c float32, n int, sum, dot *float32)
TEXT ·sumDotCenteredAVX2(SB), NOSPLIT, $0-48
	MOVQ         d+0(FP), SI
	MOVQ         x+8(FP), DX
	VBROADCASTSS c+16(FP), Y6
	MOVQ         n+24(FP), CX
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3

sd16:
	CMPQ        CX, $16
	JLT         sd8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VADDPS      Y4, Y0, Y0
	VADDPS      Y5, Y1, Y1
	VMOVUPS     (DX), Y7
	VMOVUPS     32(DX), Y8
	VSUBPS      Y6, Y7, Y7
	VSUBPS      Y6, Y8, Y8
	VFMADD231PS Y7, Y4, Y2
	VFMADD231PS Y8, Y5, Y3
	ADDQ        $64, SI
	ADDQ        $64, DX
	SUBQ        $16, CX
	JMP         sd16

sd8:
	CMPQ        CX, $8
	JLT         sdSum
	VMOVUPS     (SI), Y4
	VADDPS      Y4, Y0, Y0
	VMOVUPS     (DX), Y7
	VSUBPS      Y6, Y7, Y7
	VFMADD231PS Y7, Y4, Y2
	ADDQ        $32, SI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         sd8

sdSum:
	MOVQ         sum+32(FP), DI
	MOVQ         dot+40(FP), BX
	VADDPS       Y1, Y0, Y0
	HSUM8(Y0, X0, X1)
	MOVSS        X0, (DI)
	VADDPS       Y3, Y2, Y2
	HSUM8(Y2, X2, X3)
	MOVSS        X2, (BX)
	VZEROUPPER
	RET

// func addAffine2AVX2(y *float32, a float32, u *float32, b float32, v *float32, c float32, n int)
TEXT ·addAffine2AVX2(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ         u+16(FP), SI
	VBROADCASTSS b+24(FP), Y1
	MOVQ         v+32(FP), DX
	VBROADCASTSS c+40(FP), Y2
	MOVQ         n+48(FP), CX

af8:
	CMPQ        CX, $8
	JLT         afDone
	VMOVUPS     (DI), Y3
	VADDPS      Y2, Y3, Y3
	VFMADD231PS (SI), Y0, Y3
	VFMADD231PS (DX), Y1, Y3
	VMOVUPS     Y3, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         af8

afDone:
	VZEROUPPER
	RET

// func clampGradAVX2(gx, x, grad *float32, n int, lo, hi float32)
//
// gx += grad & (lo < x) & (x < hi), ordered compares (false for NaN).
TEXT ·clampGradAVX2(SB), NOSPLIT, $0-40
	MOVQ         gx+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         grad+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS lo+32(FP), Y0
	VBROADCASTSS hi+36(FP), Y5

cg8:
	CMPQ    CX, $8
	JLT     cgDone
	VMOVUPS (SI), Y3
	VCMPPS  $0x01, Y3, Y0, Y1
	VCMPPS  $0x01, Y5, Y3, Y2
	VANDPS  Y2, Y1, Y1
	VANDPS  (DX), Y1, Y1
	VADDPS  (DI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     cg8

cgDone:
	VZEROUPPER
	RET

// func gather2AVX2(dst, src *float32, n int)
//
// Per 8 outputs: VSHUFPS picks elements 0 and 2 of each 128-bit lane of
// both loads, giving (a0 a2 b0 b2 | a4 a6 b4 b6); VPERMPD puts the 64-bit
// pairs in order.
TEXT ·gather2AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

g2loop:
	CMPQ    CX, $8
	JLT     g2done
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VPERMPD $0xd8, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $64, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     g2loop

g2done:
	VZEROUPPER
	RET

// func maxPairs2AVX2(y, a, b *float32, n int)
//
// Per 8 outputs: the two rows' 16 elements are maxed vertically, then
// VSHUFPS splits even and odd columns, giving (e0 e2 e8 e10 | e4 e6 e12
// e14) and the matching odds; their max is put in order by VPERMPD, as in
// gather2AVX2.
TEXT ·maxPairs2AVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX

mp2loop:
	CMPQ    CX, $8
	JLT     mp2done
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMAXPS  (DX), Y0, Y0
	VMAXPS  32(DX), Y1, Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xdd, Y1, Y0, Y3
	VMAXPS  Y3, Y2, Y2
	VPERMPD $0xd8, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     mp2loop

mp2done:
	VZEROUPPER
	RET

// func maxIntoAVX2(y, x *float32, n int)
TEXT ·maxIntoAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

mxloop:
	CMPQ    CX, $8
	JLT     mxdone
	VMOVUPS (DI), Y0
	VMAXPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     mxloop

mxdone:
	VZEROUPPER
	RET

// Window codes for maxPairs2ArgAVX2: 0..3 as int32, one per lane.
DATA mp2code1<>+0(SB)/4, $1
GLOBL mp2code1<>(SB), RODATA|NOPTR, $4
DATA mp2code2<>+0(SB)/4, $2
GLOBL mp2code2<>(SB), RODATA|NOPTR, $4
DATA mp2code3<>+0(SB)/4, $3
GLOBL mp2code3<>(SB), RODATA|NOPTR, $4

// func maxPairs2ArgAVX2(y *float32, code *int32, a, b *float32, n int)
//
// As maxPairs2AVX2, and code[i] is the window position of the maximum,
// the first in the order a[2i], a[2i+1], b[2i], b[2i+1] (0..3): the
// codes start at 3 and are overwritten by blends from the last position
// to the first where that position equals the maximum.
TEXT ·maxPairs2ArgAVX2(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ code+8(FP), R8
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	MOVQ n+32(FP), CX
	VPBROADCASTD mp2code1<>(SB), Y12
	VPBROADCASTD mp2code2<>(SB), Y13
	VPBROADCASTD mp2code3<>(SB), Y14
	VPXOR        Y15, Y15, Y15

mpaloop:
	CMPQ    CX, $8
	JLT     mpadone
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4 // v0: a even
	VSHUFPS $0xdd, Y1, Y0, Y5 // v1: a odd
	VSHUFPS $0x88, Y3, Y2, Y6 // v2: b even
	VSHUFPS $0xdd, Y3, Y2, Y7 // v3: b odd
	VMAXPS  Y5, Y4, Y8
	VMAXPS  Y7, Y6, Y9
	VMAXPS  Y9, Y8, Y8        // m
	VMOVDQA Y14, Y10          // code = 3
	VCMPPS  $0, Y8, Y6, Y11   // v2 == m
	VBLENDVPS Y11, Y13, Y10, Y10
	VCMPPS  $0, Y8, Y5, Y11   // v1 == m
	VBLENDVPS Y11, Y12, Y10, Y10
	VCMPPS  $0, Y8, Y4, Y11   // v0 == m
	VBLENDVPS Y11, Y15, Y10, Y10
	VPERMPD $0xd8, Y8, Y8
	VPERMPD $0xd8, Y10, Y10
	VMOVUPS Y8, (DI)
	VMOVDQU Y10, (R8)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $32, DI
	ADDQ    $32, R8
	SUBQ    $8, CX
	JMP     mpaloop

mpadone:
	VZEROUPPER
	RET

// func addRowsAVX2(dst *float32, dstStride int, src *float32, srcStride int, width8, rows int)
//
// dst row += src row for rows rows of width8 (a multiple of 8) floats.
TEXT ·addRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	MOVQ width8+32(FP), R10
	MOVQ rows+40(FP), CX
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10

arrow:
	TESTQ CX, CX
	JZ    ardone
	XORQ  AX, AX

arblock:
	CMPQ    AX, R10
	JGE     arnext
	VMOVUPS (DI)(AX*1), Y0
	VADDPS  (SI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     arblock

arnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JMP  arrow

ardone:
	VZEROUPPER
	RET

// func reluGradSetAVX2(gx, x, grad *float32, n int)
//
// gx = grad where x > 0, else 0 (reluGradAVX2 without the add).
TEXT ·reluGradSetAVX2(SB), NOSPLIT, $0-32
	MOVQ   gx+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   grad+16(FP), DX
	MOVQ   n+24(FP), CX
	VXORPS Y0, Y0, Y0

rgs8:
	CMPQ    CX, $8
	JLT     rgsDone
	VCMPPS  $0x01, (SI), Y0, Y1
	VANDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     rgs8

rgsDone:
	VZEROUPPER
	RET

// func affine2AVX2(y *float32, a float32, u *float32, b float32, v *float32, c float32, n int)
//
// y = a·u + b·v + c (addAffine2AVX2 without the add).
TEXT ·affine2AVX2(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ         u+16(FP), SI
	VBROADCASTSS b+24(FP), Y1
	MOVQ         v+32(FP), DX
	VBROADCASTSS c+40(FP), Y2
	MOVQ         n+48(FP), CX

sf8:
	CMPQ        CX, $8
	JLT         sfDone
	VMOVAPS     Y2, Y3
	VFMADD231PS (SI), Y0, Y3
	VFMADD231PS (DX), Y1, Y3
	VMOVUPS     Y3, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         sf8

sfDone:
	VZEROUPPER
	RET

// func gatherRows2AVX2(dst *float32, dstStride int, src *float32, srcStride int, width, rows int)
//
// dst row = src row's even elements, width ≥ 5 outputs per row, each
// source row holding 2·width−1 floats (no more may be read): 8 outputs
// from 16 floats while those stay inside the row, then 4 from 8, then
// the row's last 4 outputs again from the 8 floats that end the row (its
// odd lanes).
TEXT ·gatherRows2AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	MOVQ width+32(FP), DX
	MOVQ rows+40(FP), CX
	SHLQ $2, R8
	SHLQ $2, R9
	LEAQ -1(DX), R10
	ANDQ $-8, R10
	SHLQ $2, R10         // dst bytes done in blocks of 8
	LEAQ -20(DX*4), R11  // a block of 4 fits while the offset ≤ this
	LEAQ (DX*4), R12     // row width in dst bytes
	LEAQ -16(DX*4), R13  // dst byte offset of the row's last 4
	LEAQ -36(DX*8), R14  // src byte offset of the row's last 8

grrow:
	TESTQ CX, CX
	JZ    grdone
	XORQ  AX, AX // dst byte offset; src offset is twice that

grblock8:
	CMPQ    AX, R10
	JGE     grblock4
	LEAQ    (AX)(AX*1), BX
	VMOVUPS (SI)(BX*1), Y0
	VMOVUPS 32(SI)(BX*1), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VPERMPD $0xd8, Y2, Y2
	VMOVUPS Y2, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     grblock8

grblock4:
	CMPQ         AX, R11
	JG           grtail
	LEAQ         (AX)(AX*1), BX
	VMOVUPS      (SI)(BX*1), Y0
	VEXTRACTF128 $1, Y0, X1
	VSHUFPS      $0x88, X1, X0, X2
	VMOVUPS      X2, (DI)(AX*1)
	ADDQ         $16, AX
	JMP          grblock4

grtail:
	CMPQ         AX, R12
	JGE          grnext
	VMOVUPS      (SI)(R14*1), Y0
	VEXTRACTF128 $1, Y0, X1
	VSHUFPS      $0xdd, X1, X0, X2
	VMOVUPS      X2, (DI)(R13*1)

grnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JMP  grrow

grdone:
	VZEROUPPER
	RET

// func copyRowsAtAVX2(dst *float32, dstStride int, src *float32, srcOff *int, width, rows int)
//
// Row r (width ≥ 8 floats) comes from src + srcOff[r]: full 8-float
// blocks, then the row's last 8 floats again, as copyPlanesAVX.
TEXT ·copyRowsAtAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ srcOff+24(FP), BX
	MOVQ width+32(FP), R10
	MOVQ rows+40(FP), CX
	SHLQ $2, R8
	LEAQ -32(R10*4), R11

carow:
	TESTQ CX, CX
	JZ    cadone
	MOVQ  (BX), DX
	LEAQ  (SI)(DX*4), DX
	XORQ  AX, AX

cablock:
	CMPQ    AX, R11
	JG      catail
	VMOVUPS (DX)(AX*1), Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     cablock

catail:
	VMOVUPS (DX)(R11*1), Y0
	VMOVUPS Y0, (DI)(R11*1)
	ADDQ    R8, DI
	ADDQ    $8, BX
	DECQ    CX
	JMP     carow

cadone:
	VZEROUPPER
	RET

// func tapSumAVX2(y, x *float32, off *int, k *float32, taps int, bias float32, n int)
// y[i] = bias + Σ_t k[t]·x[off[t]+i], taps ≥ 1, accumulated in tap order.
TEXT ·tapSumAVX2(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         off+16(FP), R8
	MOVQ         k+24(FP), R9
	MOVQ         taps+32(FP), R10
	VBROADCASTSS bias+40(FP), Y15
	MOVQ         n+48(FP), CX

tapSum32:
	CMPQ        CX, $32
	JLT         tapSum8
	VMOVAPS     Y15, Y0
	VMOVAPS     Y15, Y1
	VMOVAPS     Y15, Y2
	VMOVAPS     Y15, Y3
	XORQ        R11, R11

tapSum32Tap:
	MOVQ         (R8)(R11*8), R12
	VBROADCASTSS (R9)(R11*4), Y4
	LEAQ         (SI)(R12*4), R13
	VFMADD231PS  (R13), Y4, Y0
	VFMADD231PS  32(R13), Y4, Y1
	VFMADD231PS  64(R13), Y4, Y2
	VFMADD231PS  96(R13), Y4, Y3
	INCQ         R11
	CMPQ         R11, R10
	JLT          tapSum32Tap
	VMOVUPS      Y0, (DI)
	VMOVUPS      Y1, 32(DI)
	VMOVUPS      Y2, 64(DI)
	VMOVUPS      Y3, 96(DI)
	ADDQ         $128, DI
	ADDQ         $128, SI
	SUBQ         $32, CX
	JMP          tapSum32

tapSum8:
	CMPQ        CX, $8
	JLT         tapSumDone
	VMOVAPS     Y15, Y0
	XORQ        R11, R11

tapSum8Tap:
	MOVQ         (R8)(R11*8), R12
	VBROADCASTSS (R9)(R11*4), Y4
	VFMADD231PS  (SI)(R12*4), Y4, Y0
	INCQ         R11
	CMPQ         R11, R10
	JLT          tapSum8Tap
	VMOVUPS      Y0, (DI)
	ADDQ         $32, DI
	ADDQ         $32, SI
	SUBQ         $8, CX
	JMP          tapSum8

tapSumDone:
	VZEROUPPER
	RET

// func addClampAVX2(y, x *float32, n int, b, lo, hi float32)
//
// y = min(max(x + b, lo), hi); VMAXPS and VMINPS return their second
// source, the sum, when either is NaN.
TEXT ·addClampAVX2(SB), NOSPLIT, $0-36
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS b+24(FP), Y3
	VBROADCASTSS lo+28(FP), Y0
	VBROADCASTSS hi+32(FP), Y1

addClamp8:
	CMPQ    CX, $8
	JLT     addClampDone
	VADDPS  (SI), Y3, Y2
	VMAXPS  Y2, Y0, Y2
	VMINPS  Y2, Y1, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     addClamp8

addClampDone:
	VZEROUPPER
	RET

// func addPairClampAVX2(y, a, b *float32, n int, lo, hi float32)
//
// y = min(max(a + b, lo), hi), NaN staying NaN as in addClampAVX2.
TEXT ·addPairClampAVX2(SB), NOSPLIT, $0-40
	MOVQ         y+0(FP), DI
	MOVQ         a+8(FP), SI
	MOVQ         b+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS lo+32(FP), Y0
	VBROADCASTSS hi+36(FP), Y1

addPairClamp8:
	CMPQ    CX, $8
	JLT     addPairClampDone
	VMOVUPS (SI), Y2
	VADDPS  (DX), Y2, Y2
	VMAXPS  Y2, Y0, Y2
	VMINPS  Y2, Y1, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     addPairClamp8

addPairClampDone:
	VZEROUPPER
	RET

// func copyPlanesAVX(dst *float32, dstStride, dstPlane int, src *float32, srcStride, srcPlane int, width, rows, planes int)
//
// Rows of width ≥ 4 floats in planes sets, dstPlane and srcPlane floats
// apart. Width ≥ 8: full 8-float blocks, then the row's last 8 floats
// again; width 4–7: the row's first and last 4 floats. The moves overlap,
// which a copy allows.
TEXT ·copyPlanesAVX(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	MOVQ dstPlane+16(FP), R12
	MOVQ src+24(FP), SI
	MOVQ srcStride+32(FP), R9
	MOVQ srcPlane+40(FP), R13
	MOVQ width+48(FP), R10
	MOVQ rows+56(FP), R14
	MOVQ planes+64(FP), DX
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R12
	SHLQ $2, R13
	LEAQ -32(R10*4), R11 // byte offset of a row's last 8 floats (< 0: width < 8)

cpplane:
	TESTQ DX, DX
	JZ    cpdone
	MOVQ  DI, BX
	MOVQ  SI, CX
	MOVQ  R14, R10

cprow:
	TESTQ R10, R10
	JZ    cpnext
	TESTQ R11, R11
	JL    cpshort
	XORQ  AX, AX

cpblock:
	CMPQ    AX, R11
	JG      cptail
	VMOVUPS (CX)(AX*1), Y0
	VMOVUPS Y0, (BX)(AX*1)
	ADDQ    $32, AX
	JMP     cpblock

cptail:
	VMOVUPS (CX)(R11*1), Y0
	VMOVUPS Y0, (BX)(R11*1)
	JMP     cprowdone

cpshort:
	VMOVUPS (CX), X0
	VMOVUPS 16(CX)(R11*1), X1 // the row's last 4 floats
	VMOVUPS X0, (BX)
	VMOVUPS X1, 16(BX)(R11*1)

cprowdone:
	ADDQ R8, BX
	ADDQ R9, CX
	DECQ R10
	JMP  cprow

cpnext:
	ADDQ R12, DI
	ADDQ R13, SI
	DECQ DX
	JMP  cpplane

cpdone:
	VZEROUPPER
	RET
